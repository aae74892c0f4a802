// Command kfakebroker runs the in-process Kafka test broker (franz-go's kfake,
// the real Kafka protocol, messages in memory) as a process of its own, for
// benchmarks that point Caddy's Kafka connector at a broker: one broker on
// -addr's port with -topic seeded (one partition). It runs until killed.
//
//	go run ./bench/kfakebroker -addr 127.0.0.1:9092 -topic login-events
package main

import (
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9092", "listen address (host:port)")
	topic := flag.String("topic", "login-events", "topic to create, one partition")
	flag.Parse()
	_, p, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("kfakebroker: -addr: %v", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		log.Fatalf("kfakebroker: -addr: port: %v", err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, *topic))
	if err != nil {
		log.Fatalf("kfakebroker: %v", err)
	}
	defer c.Close()
	log.Printf("kfakebroker: listening on %v, topic %s", c.ListenAddrs(), *topic)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}
