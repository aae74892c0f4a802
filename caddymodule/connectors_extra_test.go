package caddymodule

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/loginguard/loginguard/event"
)

// TestExtraConnectorProvisionErrors: each connector module refuses config
// that cannot work, naming the connector and the field, without reaching its
// peer.
func TestExtraConnectorProvisionErrors(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	for _, tc := range []struct{ conns, want string }{
		{"connector n nats nats://127.0.0.1:4222", "connector n (nats): nats: subject: want a subject"},
		{"connector n nats nats://127.0.0.1:4222 {\n subject a\n creds_file /nonexistent.creds\n }", "connector n (nats): creds_file:"},
		{"connector r rabbitmq http://x", "connector r (rabbitmq): rabbitmq: url: want amqp://"},
		{"connector r rabbitmq amqp://guest:guest@127.0.0.1:5672/", "connector r (rabbitmq): rabbitmq: routing_key: required"},
		{"connector s syslog smtp://h:25", "connector s (syslog): syslog: network: want udp, tcp or tls"},
		{"connector s syslog h:514", "connector s (syslog): address: want <network>://host:port"},
		{"connector s syslog tcp://h:514 {\n facility 99\n }", "connector s (syslog): syslog: facility: want 0 to 23"},
		{"connector g gelf http://h:12201", "connector g (gelf): gelf: network: want udp or tcp"},
		{"connector g gelf udp://h:12201 {\n chunk_size 5\n }", "connector g (gelf): gelf: chunk_size: want 100 to 65000"},
		{"connector db sql oracle x", `connector db (sql): sql: driver: want postgres or mysql, got "oracle"`},
		{"connector db sql postgres postgres://x/y {\n table \"a b\"\n }", "connector db (sql): sql: table: want a name"},
		{"connector es elasticsearch http://h:9200", "connector es (elasticsearch): elasticsearch: index: want"},
		{"connector es elasticsearch http://h:9200 {\n index i\n ca_file /nonexistent.pem\n }", "connector es (elasticsearch): tls: ca: open /nonexistent.pem"},
	} {
		err := validateCaddyfile(t, withConnectors(tc.conns))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.conns, err, tc.want)
		}
	}
	for _, tc := range []struct{ conns, want string }{
		{"connector n nats", "connector n: want `nats <url>`"},
		{"connector n nats nats://h {\n color red\n }", `nats: unknown option "color"`},
		{"connector s syslog tcp://h:1 {\n pen many\n }", `connector s: syslog pen: want a positive integer, got "many"`},
		{"connector db sql postgres", "connector db: want `sql <postgres|mysql> <dsn>`"},
		{"connector es elasticsearch http://h:9200 {\n index i\n format xml\n }", `format: unknown format "xml"`},
	} {
		_, err := adapt(t, "Caddyfile", []byte(withConnectors(tc.conns)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.conns, err, tc.want)
		}
	}
}

// TestExtraConnectorsThroughCaddy: a failed login through Caddy arrives at
// NATS JetStream, RabbitMQ and a PostgreSQL table through the connector
// modules (spooled), each with the event's id; syslog, GELF and Elasticsearch
// modules with their peers down do not stop the config from loading.
func TestExtraConnectorsThroughCaddy(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	n := time.Now().UnixNano()
	subject, stream := fmt.Sprintf("lgcaddy.%d", n), fmt.Sprintf("LGCADDY_%d", n)
	queue, table := fmt.Sprintf("lgcaddy-%d", n), fmt.Sprintf("lgcaddy_%d", n)
	const pgDSN = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

	nc, err := natsgo.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatalf("NATS: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	defer js.DeleteStream(context.Background(), stream)
	conn, err := amqp.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		t.Fatalf("RabbitMQ: %v", err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	defer ch.QueueDelete(queue, false, false, false)
	db, err := sql.Open("pgx", pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer db.Exec("DROP TABLE IF EXISTS " + table)

	portal := refusingPortal(t)
	port := freePort(t)
	out := connectorsConfig(t, port, portal.URL, fmt.Sprintf(`		connector js nats nats://127.0.0.1:4222 {
			subject %s
			stream %s
		}
		connector mq rabbitmq amqp://guest:guest@127.0.0.1:5672/ {
			routing_key %s
			queue %s
		}
		connector db sql postgres %s {
			table %s
		}
		connector logs syslog tcp://127.0.0.1:1
		connector graylog gelf udp://127.0.0.1:1
		connector es elasticsearch http://127.0.0.1:1 {
			index logins-{yyyy}.{MM}
		}`, subject, stream, queue, queue, pgDSN, table))
	if err := caddy.Load(out, true); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	failLogin(t, port, "User@Example.com")

	deadline := time.Now().Add(60 * time.Second)
	var fromNATS, fromMQ, fromSQL event.Event
	for fromNATS.ID == "" || fromMQ.ID == "" || fromSQL.ID == "" {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: NATS %q, RabbitMQ %q, SQL %q", fromNATS.ID, fromMQ.ID, fromSQL.ID)
		}
		time.Sleep(20 * time.Millisecond)
		if fromNATS.ID == "" {
			if st, err := js.Stream(context.Background(), stream); err == nil {
				if m, err := st.GetMsg(context.Background(), 1); err == nil {
					json.Unmarshal(m.Data, &fromNATS)
				}
			}
		}
		if fromMQ.ID == "" {
			if m, ok, err := ch.Get(queue, true); err == nil && ok {
				json.Unmarshal(m.Body, &fromMQ)
			} else if err != nil {
				ch, _ = conn.Channel() // a missing queue closes the channel
			}
		}
		if fromSQL.ID == "" {
			var payload string
			if db.QueryRow("SELECT payload FROM "+table).Scan(&payload) == nil {
				json.Unmarshal([]byte(payload), &fromSQL)
			}
		}
	}
	for name, ev := range map[string]event.Event{"nats": fromNATS, "rabbitmq": fromMQ, "sql": fromSQL} {
		if ev.EventType != event.LoginFailure || event.Value(ev.Email) != "user@example.com" || ev.ID != fromNATS.ID {
			t.Errorf("%s: %+v", name, ev)
		}
	}
}
