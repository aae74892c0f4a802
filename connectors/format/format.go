// Package format turns login events into the payloads connectors send: the connector
// event's JSON (the default), Elastic Common Schema or OCSF Authentication.
package format

import (
	"fmt"
	"sort"
	"strings"

	"github.com/loginguard/loginguard/event"
)

// Encoder appends the payload of one event to b and returns the extended slice.
type Encoder func(b []byte, e *event.Event) ([]byte, error)

// Default is the name of the default format.
const Default = "json"

var encoders = map[string]Encoder{
	"json": encodeJSON,
	"ecs":  encodeECS,
	"ocsf": encodeOCSF,
}

// Lookup returns the encoder named name ("" means Default), or an error that lists
// the known formats.
func Lookup(name string) (Encoder, error) {
	if name == "" {
		name = Default
	}
	if enc, ok := encoders[name]; ok {
		return enc, nil
	}
	return nil, fmt.Errorf("unknown format %q (want %s)", name, strings.Join(Names(), ", "))
}

// Names lists the known formats, sorted.
func Names() []string {
	names := make([]string, 0, len(encoders))
	for n := range encoders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// encodeJSON writes the event in the connector event's JSON, byte for byte as the login log.
func encodeJSON(b []byte, e *event.Event) ([]byte, error) {
	return e.AppendJSON(b), nil
}
