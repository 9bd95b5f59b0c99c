{
  "targets": [
    {
      "target_name": "cocoon_native",
      "sources": ["native/cocoon_native.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
