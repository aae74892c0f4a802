package main

import "testing"

func TestObjects(t *testing.T) {
	for body, want := range map[string]int64{
		`[]`:           0,
		`[{"id":"a"}]`: 1,
		`[{"id":"a","m":{"x":[1,{}]}},{"id":"b"}]`: 2,
		`[{"m":"} { [ \" ]"},{"m":"\\"},{}]`:       3,
		`[{"id":"a"}`:                              -1,
		`[{"id":"a}]`:                              -1,
		`[{"id":"a"}]]`:                            -1,
	} {
		if got := objects([]byte(body)); got != want {
			t.Errorf("objects(%s) = %d, want %d", body, got, want)
		}
	}
}
