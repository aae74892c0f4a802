<?php
// A tiny login portal on PHP's built-in server, reading the principal the way a
// plain PHP app does:
//
//	php -S 127.0.0.1:PORT router.php
//
// Forms come from $_POST (PHP keeps the last of repeated fields, makes name[]
// an array, rewrites "." and " " in names to "_", drops leading spaces of names,
// and ignores fields past max_input_vars); JSON (Content-Type containing
// "application/json") from json_decode(php://input, true)['email'].
//
// POST /login, GET /_received, POST /_reset: see e2e/portals_harness_test.go.
// PHP keeps nothing in memory between requests, so the counts live in a file:
// $PORTAL_STATE, else one per port in the temp dir.

const ACCOUNTS = ['victim@example.com' => 'right-password', 'decoy@example.com' => 'right-password'];

function state_path(): string {
    $p = getenv('PORTAL_STATE');
    if ($p !== false && $p !== '') {
        return $p;
    }
    return sys_get_temp_dir() . '/loginguard-php-portal-' . $_SERVER['SERVER_PORT'] . '.json';
}

// with_state runs $fn on the counts under an exclusive lock and saves what it returns.
function with_state(callable $fn): array {
    $f = fopen(state_path(), 'c+');
    flock($f, LOCK_EX);
    $data = stream_get_contents($f);
    $counts = $data ? json_decode($data, true) : [];
    if (!is_array($counts)) {
        $counts = [];
    }
    $counts = $fn($counts);
    ftruncate($f, 0);
    rewind($f);
    fwrite($f, json_encode((object)$counts, JSON_INVALID_UTF8_SUBSTITUTE));
    fflush($f);
    flock($f, LOCK_UN);
    fclose($f);
    return $counts;
}

function reply(int $status, $body): void {
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body, JSON_INVALID_UTF8_SUBSTITUTE | JSON_UNESCAPED_SLASHES);
}

// key is the account lookup key of a field value, or the name of its kind.
function key_of($v): string {
    if (is_string($v)) {
        return strtolower(trim($v));
    }
    if ($v === null) {
        return '<missing>';
    }
    if (is_array($v)) {
        return array_is_list($v) ? '<array>' : '<object>';
    }
    return '<other>';
}

$method = $_SERVER['REQUEST_METHOD'];
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);

if ($method === 'GET' && $path === '/_received') {
    reply(200, (object)with_state(fn($c) => $c));
    return;
}
if ($method === 'POST' && $path === '/_reset') {
    with_state(fn($c) => []);
    reply(200, ['ok' => true]);
    return;
}
if ($method === 'POST' && $path === '/login') {
    if (str_contains($_SERVER['CONTENT_TYPE'] ?? '', 'application/json')) {
        $data = json_decode(file_get_contents('php://input'), true);
        $src = is_array($data) ? $data : [];
    } else {
        $src = $_POST;
    }
    $email = $src['email'] ?? null;
    $password = $src['password'] ?? null;
    $key = key_of($email);
    with_state(function ($c) use ($key) {
        $c[$key] = ($c[$key] ?? 0) + 1;
        return $c;
    });
    if (is_string($email) && is_string($password) && isset(ACCOUNTS[$key])
        && hash_equals(ACCOUNTS[$key], $password)) {
        header('Set-Cookie: session=' . bin2hex(random_bytes(16)) . '; Path=/; HttpOnly');
        reply(200, ['ok' => true, 'email' => $key]);
        return;
    }
    reply(401, ['code' => 'BAD_CREDENTIALS']);
    return;
}
reply(404, ['code' => 'NOT_FOUND']);
