module github.com/libclusterc/clusterc-go/bench

go 1.19

require github.com/libclusterc/clusterc-go v0.0.0

replace github.com/libclusterc/clusterc-go => ../
