package quote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Limiter rate-limits provider requests: Wait blocks until a request may be
// made or ctx ends. *rate.Limiter (golang.org/x/time/rate) implements it.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Default per-provider request rates. Alpha Vantage's free tier allows 5
// requests per minute (its documented limit at the time of writing); Yahoo
// publishes none, and 1 request per second, bursts of 2, stays clear of its
// throttling.
var (
	DefaultYahooLimit        = rate.Limit(1)
	DefaultAlphaVantageLimit = rate.Every(12 * time.Second)
)

var (
	yahooLimiter        = rate.NewLimiter(DefaultYahooLimit, 2)
	alphaVantageLimiter = rate.NewLimiter(DefaultAlphaVantageLimit, 1)
)

// maxBody bounds a provider response, in bytes.
const maxBody = 16 << 20

// RetryConfig configures provider requests. Zero fields take the defaults of
// DefaultRetryConfig.
type RetryConfig struct {
	// MaxAttempts is the number of tries of one request, first included.
	// Default 4.
	MaxAttempts int
	// InitialInterval and MaxInterval bound the exponential backoff between
	// tries (multiplier 2, randomization +-50% as jitter). Defaults 500ms
	// and 30s.
	InitialInterval, MaxInterval time.Duration
	// AttemptTimeout bounds one try, the body read included. Default 10s.
	AttemptTimeout time.Duration
	// MaxRetryAfter is the longest Retry-After (on 429 or 503) the request
	// waits for; a longer one ends it at once with ErrUpstream, leaving the
	// wait to the caller. Default 60s.
	MaxRetryAfter time.Duration
}

// DefaultRetryConfig returns the defaults described on RetryConfig.
func DefaultRetryConfig() RetryConfig {
	return RetryConfig{MaxAttempts: 4, InitialInterval: 500 * time.Millisecond, MaxInterval: 30 * time.Second,
		AttemptTimeout: 10 * time.Second, MaxRetryAfter: 60 * time.Second}
}

func (r RetryConfig) withDefaults() RetryConfig {
	d := DefaultRetryConfig()
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = d.MaxAttempts
	}
	if r.InitialInterval <= 0 {
		r.InitialInterval = d.InitialInterval
	}
	if r.MaxInterval <= 0 {
		r.MaxInterval = d.MaxInterval
	}
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = d.AttemptTimeout
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = d.MaxRetryAfter
	}
	return r
}

// getter makes GET requests to one provider with rate limit, retries and
// backoff. It is safe for concurrent use.
type getter struct {
	client  *http.Client
	ua      string
	limiter Limiter
	clock   Clock
	retry   RetryConfig
	log     *zap.Logger
}

// retryable marks a failed try worth another: network errors, 429, 5xx and
// provider throttling messages. after is the server's Retry-After, if any.
type retryable struct {
	msg   string
	after time.Duration
}

func (e *retryable) Error() string { return e.msg }

// get fetches u and returns its body after check accepts it. check returns
// nil, a *retryable, or a permanent error. Errors wrap ErrUpstream (or are
// ctx's) and name u's host and symbol only: u's query holds API keys.
func (g *getter) get(ctx context.Context, u *url.URL, symbol string, check func([]byte) error) ([]byte, error) {
	where := fmt.Sprintf("%s %s", u.Host, symbol)
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     g.retry.InitialInterval,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         g.retry.MaxInterval,
		Clock:               backoff.SystemClock,
	}
	bo.Reset()
	var last error
	for attempt := 1; ; attempt++ {
		if err := g.limiter.Wait(ctx); err != nil {
			return nil, fmt.Errorf("quote: %s: rate limit wait: %w", where, ctxErr(ctx, err))
		}
		body, err := g.try(ctx, u)
		if err == nil && check != nil {
			err = check(body)
		}
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("quote: %s: %w", where, ctx.Err())
		}
		last = err
		var re *retryable
		if !errors.As(err, &re) {
			return nil, fmt.Errorf("%w: %s: %v", ErrUpstream, where, err)
		}
		if attempt >= g.retry.MaxAttempts {
			return nil, fmt.Errorf("%w: %s: gave up after %d attempts: %v", ErrUpstream, where, attempt, last)
		}
		if re.after > g.retry.MaxRetryAfter {
			return nil, fmt.Errorf("%w: %s: %v; Retry-After %s exceeds %s", ErrUpstream, where, err, re.after, g.retry.MaxRetryAfter)
		}
		wait := bo.NextBackOff()
		if re.after > wait {
			wait = re.after
		}
		g.log.Warn("quote: retrying provider request", zap.String("host", u.Host), zap.String("symbol", symbol),
			zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.String("err", err.Error()))
		if err := g.clock.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("quote: %s: %w (last: %v)", where, err, last)
		}
	}
}

// try makes one request. Its errors never include the URL.
func (g *getter) try(ctx context.Context, u *url.URL) ([]byte, error) {
	actx, cancel := context.WithTimeout(ctx, g.retry.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errors.New("bad request URL")
	}
	req.Header.Set("User-Agent", g.ua)
	req.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error's text holds the URL, and with it the key
		}
		return nil, &retryable{msg: "request: " + err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &retryable{msg: "read body: " + err.Error()}
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return body, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, &retryable{msg: "HTTP " + resp.Status, after: retryAfter(resp.Header.Get("Retry-After"), g.clock.Now())}
	default:
		return nil, fmt.Errorf("HTTP %s: %.200s", resp.Status, body)
	}
}

// retryAfter parses a Retry-After header (RFC 9110 section 10.2.3): delay
// seconds or an HTTP date. It returns 0 when absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
