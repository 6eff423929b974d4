{
  "targets": [
    {
      "target_name": "openomics_deflate",
      "sources": ["native/libdeflate_binding.c"],
      "libraries": ["-ldeflate"],
      "cflags": ["-O3"]
    }
  ]
}
