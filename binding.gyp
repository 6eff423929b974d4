{
  "variables": {
    "has_libdeflate": "<!(test -f /usr/include/libdeflate.h && echo 1 || echo 0)",
    "has_openssl": "<!(test -f /usr/include/openssl/evp.h && echo 1 || echo 0)",
    "has_htslib": "<!(test -f /usr/include/htslib/sam.h && test -f /usr/include/openssl/evp.h && echo 1 || echo 0)"
  },
  "targets": [],
  "conditions": [
    ["has_libdeflate==1", {
      "targets": [{
        "target_name": "openomics_deflate",
        "sources": ["native/libdeflate_binding.c"],
        "libraries": ["-ldeflate"],
        "cflags": ["-O3", "-Wall", "-Wextra"]
      }]
    }],
    ["has_openssl==1", {
      "targets": [{
        "target_name": "openomics_crypto",
        "sources": ["native/sealed_chunks_binding.c"],
        "libraries": ["-lcrypto"],
        "cflags": ["-O3", "-Wall", "-Wextra"]
      }]
    }],
    ["has_htslib==1", {
      "targets": [{
        "target_name": "openomics_sam",
        "sources": ["native/sam_format_binding.c"],
        "libraries": ["-lhts", "-lcrypto"],
        "cflags": ["-O3", "-Wall", "-Wextra"]
      }]
    }]
  ]
}
