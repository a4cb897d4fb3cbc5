module edge-ota/native/ota-apply-ops

go 1.24

require github.com/andybalholm/brotli v1.2.8
