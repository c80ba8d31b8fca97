# A node reached over TLS with an ACL user: the password is read from a file
# next to the runbook, the client certificate is presented, the server's is
# checked against the runbook's CA. A rehearsal ignores the tls block.
node "old" {
  address  = "127.0.0.1:6380"
  username = env("UNDERSTUDY_TEST_TLS_USER", "app")
  password = file("tls-password.txt")
  tls {
    ca_file     = "certs/ca.pem"
    cert_file   = "certs/client.pem"
    key_file    = "certs/client.key"
    server_name = "redis-1.internal"
  }
  rehearsal {
    version = "7.0"
  }
}

node "new" {
  address = "127.0.0.1:6381"
  tls {}
  rehearsal {
    version = "8.0"
  }
}

step "assert" "old_is_master" {
  condition = node.old.role == "master"
}
