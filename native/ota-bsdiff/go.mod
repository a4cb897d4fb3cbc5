module edge-ota/native/ota-bsdiff

go 1.22
