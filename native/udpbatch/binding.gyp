{
  "targets": [
    {
      "target_name": "udpbatch",
      "sources": ["udpbatch.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
