package container

import (
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps/redis"
)

func TestUserConfig(t *testing.T) {
	for _, tc := range []struct {
		version, user, password, want string
	}{
		{"7.0", "", "pw", ""},
		{"7.0", "default", "pw", ""},
		{"6.0", "app", "p w", `user "app" "on" ">p w" "~*" "+@all"` + "\n"},
		{"8.0", "app", "pw", `user "app" "on" ">pw" "~*" "+@all" "&*"` + "\n"},
		{"valkey:8.1", "app", "", `user "app" "on" "nopass" "~*" "+@all" "&*"` + "\n"},
	} {
		if got := userConfig(redis.MustParseVersion(tc.version), tc.user, tc.password); got != tc.want {
			t.Errorf("userConfig(%s, %q, %q) = %q, want %q", tc.version, tc.user, tc.password, got, tc.want)
		}
	}
}

// A node started WithUser accepts the application's user with the node's
// password, next to the default user, on the oldest and the newest
// version, and still does after it is replaced by another version.
func TestWithUser(t *testing.T) {
	ctx := testCtx(t)
	const password = "user-test-password"
	check := func(n *Node, when string, channels bool) {
		t.Helper()
		c := goredis.NewClient(&goredis.Options{Addr: n.Addr(), Username: "app", Password: password})
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Errorf("%s: SET as app: %v", when, err)
		}
		if err := c.Publish(ctx, "ch", "m").Err(); channels && err != nil {
			t.Errorf("%s: PUBLISH as app: %v", when, err)
		}
		bad := goredis.NewClient(&goredis.Options{Addr: n.Addr(), Username: "app", Password: "wrong-password"})
		defer bad.Close()
		if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("%s: a wrong password: %v", when, err)
		}
	}
	old := runNode(t, ctx, "user-old", "6.0", WithPassword(password), WithUser("app"))
	check(old, "6.0", true)
	if err := old.Replace(ctx, redis.MustParseVersion("7.0")); err != nil {
		t.Fatal(err)
	}
	check(old, "6.0 replaced by 7.0", false)
	check(runNode(t, ctx, "user-new", "8.0", WithPassword(password), WithUser("app")), "8.0", true)
}
