package traffic

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// errorKind names the kind of a failed write for Report.ErrorsByKind: the
// error code of a server error ("READONLY", "NOREPLICAS", "LOADING", "ERR" ...),
// or "EOF", "timeout", "connection", "pool_timeout", "closed", "other".
func errorKind(err error) string {
	var rerr redis.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, redis.ErrPoolTimeout):
		return "pool_timeout"
	case errors.Is(err, redis.ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &rerr):
		return serverCode(rerr.Error())
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return "timeout"
	}
	var operr *net.OpError
	if errors.As(err, &operr) {
		return "connection"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "timeout"):
		return "timeout"
	case strings.Contains(s, "connection refused"), strings.Contains(s, "connection reset"),
		strings.Contains(s, "broken pipe"), strings.Contains(s, "closed network connection"):
		return "connection"
	case strings.HasSuffix(s, "EOF"):
		return "EOF"
	}
	if code := serverCode(s); code != "other" {
		return code
	}
	return "other"
}

// serverCode returns the first word of a server error if it looks like an
// error code (upper-case letters, digits, '_' or '-').
func serverCode(msg string) string {
	code, _, _ := strings.Cut(msg, " ")
	if code == "" || len(code) > 32 {
		return "other"
	}
	for _, r := range code {
		if !('A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-') {
			return "other"
		}
	}
	return code
}
