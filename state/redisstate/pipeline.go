package redisstate

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// pipeliner coalesces script calls made at the same time into pipelines: a
// few batching goroutines each take every call waiting, send them in one write
// and read the replies together. Under load an attempt then costs far fewer
// system calls than its two round trips would alone; each call is still one
// script call, never retried. A call waiting for a batch honours its context.
type pipeliner struct {
	client redis.UniversalClient
	calls  chan *call
	stop   chan struct{}
	wg     sync.WaitGroup
}

type call struct {
	ctx    context.Context
	script *redis.Script
	keys   []string
	args   []any
	done   chan *redis.Cmd
}

// pipeBatchers run batches concurrently; pipeMax bounds a batch.
const (
	pipeBatchers = 4
	pipeMax      = 128
)

func newPipeliner(c redis.UniversalClient) *pipeliner {
	p := &pipeliner{client: c, calls: make(chan *call, 4*pipeMax), stop: make(chan struct{})}
	p.wg.Add(pipeBatchers)
	for range pipeBatchers {
		go p.batcher()
	}
	return p
}

// run runs script like Script.Run, in a pipeline with whatever calls wait too.
func (p *pipeliner) run(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	c := &call{ctx: ctx, script: script, keys: keys, args: args, done: make(chan *redis.Cmd, 1)}
	select {
	case p.calls <- c:
	case <-ctx.Done():
		return errCmd(ctx, ctx.Err())
	case <-p.stop:
		return errCmd(ctx, redis.ErrClosed)
	}
	select {
	case cmd := <-c.done:
		return cmd
	case <-ctx.Done():
		return errCmd(ctx, ctx.Err())
	}
}

func errCmd(ctx context.Context, err error) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(err)
	return cmd
}

func (p *pipeliner) batcher() {
	defer p.wg.Done()
	batch := make([]*call, 0, pipeMax)
	for {
		select {
		case <-p.stop:
			return
		case c := <-p.calls:
			batch = append(batch[:0], c)
		}
	fill:
		for len(batch) < pipeMax {
			select {
			case c := <-p.calls:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		p.send(batch)
	}
}

// send runs one batch: EVALSHA for every call in one pipeline, then EVAL for
// the calls whose script the server did not have (after a restart, SCRIPT
// FLUSH, on a new node), as Script.Run does.
func (p *pipeliner) send(batch []*call) {
	if len(batch) == 1 {
		c := batch[0]
		c.done <- c.script.Run(c.ctx, p.client, c.keys, c.args...)
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
		c.done <- cmds[i]
	}
}

// close stops the batchers; calls after it fail with redis.ErrClosed.
func (p *pipeliner) close() {
	close(p.stop)
	p.wg.Wait()
}
