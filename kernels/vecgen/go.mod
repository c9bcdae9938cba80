module github.com/softcpt/softcpt-go/kernels/vecgen

go 1.26.0
