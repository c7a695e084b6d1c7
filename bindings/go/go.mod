module github.com/libclusterc/clusterc-go

go 1.19
