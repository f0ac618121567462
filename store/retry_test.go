package store

import (
	"context"
	"testing"

	"github.com/gocql/gocql"
)

type fakeQuery struct {
	attempts   int
	idempotent bool
}

func (f fakeQuery) Attempts() int                     { return f.attempts }
func (f fakeQuery) SetConsistency(gocql.Consistency)  {}
func (f fakeQuery) GetConsistency() gocql.Consistency { return gocql.One }
func (f fakeQuery) Context() context.Context          { return context.Background() }
func (f fakeQuery) IsIdempotent() bool                { return f.idempotent }

type noIdempotence struct{ fakeQuery }

func (noIdempotence) IsIdempotent() {} // hides the method: not a recognised idempotence flag

func TestIdempotentOnlyRetryPolicy(t *testing.T) {
	p := idempotentOnly{&gocql.SimpleRetryPolicy{NumRetries: 2}}
	tests := []struct {
		name string
		q    gocql.RetryableQuery
		want bool
	}{
		{"idempotent, first retry", fakeQuery{attempts: 1, idempotent: true}, true},
		{"idempotent, retries used up", fakeQuery{attempts: 3, idempotent: true}, false},
		{"not idempotent", fakeQuery{attempts: 1}, false},
		{"cannot tell", noIdempotence{fakeQuery{attempts: 1, idempotent: true}}, false},
	}
	for _, tt := range tests {
		if got := p.Attempt(tt.q); got != tt.want {
			t.Errorf("%s: Attempt = %v; want %v", tt.name, got, tt.want)
		}
	}
}
