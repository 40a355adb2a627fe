module facelive

go 1.26
