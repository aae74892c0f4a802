// A tiny login portal in Express 5, reading the principal the way a plain
// Express app does: req.body.email after express.urlencoded({extended: true})
// (qs: repeated fields and name[] become arrays, name[k] objects),
// express.json() and, for multipart forms, multer().none().
//
//	node server.js [PORT]     (or PORT in the environment)
//
// POST /login, GET /_received, POST /_reset: see e2e/portals_harness_test.go.
'use strict';

const crypto = require('node:crypto');
const express = require('express');
const multer = require('multer');

const ACCOUNTS = new Map([
  ['victim@example.com', 'right-password'],
  ['decoy@example.com', 'right-password'],
]);

let received = new Map();

function keyOf(v) {
  if (typeof v === 'string') return v.trim().toLowerCase();
  if (v === undefined || v === null) return '<missing>';
  if (Array.isArray(v)) return '<array>';
  if (typeof v === 'object') return '<object>';
  return '<other>';
}

function login(req, res) {
  const body = req.body && typeof req.body === 'object' ? req.body : {};
  const email = Object.hasOwn(body, 'email') ? body.email : undefined;
  const password = Object.hasOwn(body, 'password') ? body.password : undefined;
  const key = keyOf(email);
  received.set(key, (received.get(key) || 0) + 1);
  const want = typeof email === 'string' ? ACCOUNTS.get(key) : undefined;
  if (want !== undefined && typeof password === 'string' &&
      password.length === want.length &&
      crypto.timingSafeEqual(Buffer.from(password), Buffer.from(want))) {
    res.setHeader('Set-Cookie', `session=${crypto.randomBytes(16).toString('hex')}; Path=/; HttpOnly`);
    res.status(200).json({ ok: true, email: key });
    return;
  }
  res.status(401).json({ code: 'BAD_CREDENTIALS' });
}

const app = express();
app.post('/login',
  express.urlencoded({ extended: true }),
  express.json(),
  multer().none(),
  login,
  // A body its parser refuses (bad JSON, too many fields, a file part) is a
  // login without a readable principal: count and refuse it like the others.
  (err, req, res, next) => {
    if (res.headersSent) return next(err);
    req.body = undefined;
    login(req, res);
  });
app.get('/_received', (req, res) => {
  res.json(Object.fromEntries(received));
});
app.post('/_reset', (req, res) => {
  received = new Map();
  res.json({ ok: true });
});

const port = Number(process.argv[2] || process.env.PORT || 3000);
const server = app.listen(port, '127.0.0.1', (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
  });
}
