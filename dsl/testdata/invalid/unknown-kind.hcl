step "waitt" "x" { # ERROR: Unknown step kind
  until = true
}
