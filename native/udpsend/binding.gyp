{
  "targets": [
    {
      "target_name": "udpsend",
      "sources": ["udpsend.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
