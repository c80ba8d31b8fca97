node "a" {
  address  = "127.0.0.1:6380"
  password = file("no-such-password-file") # ERROR: Error in function call
  tls {
    cert_file            = "client.pem" # ERROR: Client certificate without a key
    insecure_skip_verify = true         # WARNING: Server certificate not verified
    verify               = true         # ERROR: Unsupported argument
  }
  tls { # ERROR: Duplicate tls block in node "a"
  }
}

node "b" {
  address = "127.0.0.1:6381"
  tls {
    key_file             = "client.key" # ERROR: Client key without a certificate
    insecure_skip_verify = "maybe"      # ERROR: Incorrect value type
  }
}

step "assert" "ok" {
  condition = node.a.role == "master"
}
