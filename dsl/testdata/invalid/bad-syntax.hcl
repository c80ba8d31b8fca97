node "a" {
  address = "x:1"
  rehearsal { version = "7.0" } } } # ERROR: Missing newline after block definition
