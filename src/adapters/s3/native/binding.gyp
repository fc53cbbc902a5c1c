{
  "targets": [
    {
      "target_name": "orch_splice",
      "sources": ["splice_relay.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [["OS!='linux'", { "type": "none", "sources!": ["splice_relay.c"] }]]
    }
  ]
}
