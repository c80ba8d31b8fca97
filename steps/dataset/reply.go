package dataset

import (
	"fmt"
	"strconv"
)

// Helpers for replies read with Do, which go-redis returns as RESP2 arrays
// or RESP3 maps, sets and numbers depending on the protocol.

// replyMap reads a map reply: a RESP3 map or a RESP2 array of alternating
// names and values. Names are strings.
func replyMap(v interface{}) (map[string]interface{}, error) {
	switch v := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = x
		}
		return m, nil
	case map[string]interface{}:
		return v, nil
	case []interface{}:
		if len(v)%2 != 0 {
			return nil, fmt.Errorf("reply is an array of %d elements, want name-value pairs", len(v))
		}
		m := make(map[string]interface{}, len(v)/2)
		for i := 0; i < len(v); i += 2 {
			m[fmt.Sprint(v[i])] = v[i+1]
		}
		return m, nil
	}
	return nil, fmt.Errorf("reply is %T, want a map", v)
}

// replyList reads an array or set reply; nil is an empty list.
func replyList(v interface{}) ([]interface{}, error) {
	switch v := v.(type) {
	case []interface{}:
		return v, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("reply is %T, want an array", v)
}

// replyStrings reads an array of strings; nil is an empty list.
func replyStrings(v interface{}) ([]string, error) {
	l, err := replyList(v)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = replyText(x)
	}
	return out, nil
}

// replyText formats a scalar reply as text: strings as they are, numbers
// in decimal, nil as "".
func replyText(v interface{}) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case []byte:
		return string(v)
	}
	return fmt.Sprint(v)
}

// replyInt reads an integer reply (or its decimal text).
func replyInt(v interface{}) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("reply is %T, want an integer", v)
}
