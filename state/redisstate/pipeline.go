package redisstate

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// pipeliner coalesces script calls into pipelines. One batching goroutine
// takes every call waiting, sends them in one write and reads the replies
// together; the calls that arrive while a batch is out wait for the next one.
// Under load a call then costs a fraction of a round trip's system calls and
// wake-ups (one batch at a time batches best: more batchers would each take a
// call or two), and calls go to Redis in the order they were made. Each call
// is still one script call, never retried. A caller waiting for its reply
// honours its context; an asynchronous call (go) is answered on the batching
// goroutine.
type pipeliner struct {
	client redis.UniversalClient
	mu     sync.RWMutex // held for reading while a call is queued, for writing by close
	closed bool
	calls  chan *call
	exited chan struct{}
}

type call struct {
	ctx    context.Context
	script *redis.Script
	keys   []string
	args   []any
	reply  chan *redis.Cmd  // a waiting caller's
	then   func(*redis.Cmd) // or an asynchronous caller's
}

// pipeMax bounds a batch.
const pipeMax = 128

func newPipeliner(c redis.UniversalClient) *pipeliner {
	p := &pipeliner{client: c, calls: make(chan *call, 4*pipeMax), exited: make(chan struct{})}
	go p.batcher()
	return p
}

// run runs script like Script.Run, in a pipeline with whatever calls wait too.
func (p *pipeliner) run(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	c := &call{ctx: ctx, script: script, keys: keys, args: args, reply: make(chan *redis.Cmd, 1)}
	if err := p.queue(c); err != nil {
		return errCmd(ctx, err)
	}
	select {
	case cmd := <-c.reply:
		return cmd
	case <-ctx.Done():
		return errCmd(ctx, ctx.Err())
	}
}

// goRun queues script like run and returns at once; then gets the reply (an
// error reply when the call could not be queued) and must not block.
func (p *pipeliner) goRun(ctx context.Context, then func(*redis.Cmd), script *redis.Script, keys []string, args ...any) {
	c := &call{ctx: ctx, script: script, keys: keys, args: args, then: then}
	if err := p.queue(c); err != nil {
		then(errCmd(ctx, err))
	}
}

func (p *pipeliner) queue(c *call) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return redis.ErrClosed
	}
	select {
	case p.calls <- c:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

func errCmd(ctx context.Context, err error) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(err)
	return cmd
}

func (p *pipeliner) batcher() {
	defer close(p.exited)
	batch := make([]*call, 0, pipeMax)
	for c := range p.calls {
		batch = append(batch[:0], c)
	fill:
		for len(batch) < pipeMax {
			select {
			case c, ok := <-p.calls:
				if !ok {
					break fill
				}
				batch = append(batch, c)
			default:
				break fill
			}
		}
		p.send(batch)
		clear(batch)
	}
}

// send runs one batch: EVALSHA for every call in one pipeline, then EVAL for
// the calls whose script the server did not have (after a restart, SCRIPT
// FLUSH, on a new node), as Script.Run does.
func (p *pipeliner) send(batch []*call) {
	if len(batch) == 1 {
		c := batch[0]
		c.answer(c.script.Run(c.ctx, p.client, c.keys, c.args...))
		return
	}
	ctx := context.Background()
	pipe := p.client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, c := range batch {
		cmds[i] = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
	for i, c := range batch {
		if isNoScript(cmds[i].Err()) {
			cmds[i] = c.script.Eval(c.ctx, p.client, c.keys, c.args...)
		}
		c.answer(cmds[i])
	}
}

func (c *call) answer(cmd *redis.Cmd) {
	if c.then != nil {
		c.then(cmd)
		return
	}
	c.reply <- cmd
}

// close sends the calls already queued and stops the batcher; calls after it
// fail with redis.ErrClosed.
func (p *pipeliner) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.calls)
	}
	p.mu.Unlock()
	<-p.exited
}
