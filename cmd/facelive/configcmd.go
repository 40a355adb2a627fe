package main

import (
	"fmt"
	"io"

	"facelive/engine/config"
)

// cmdConfig handles "config check FILE" and "config default".
func cmdConfig(args []string, stdout, stderr io.Writer) error {
	const synopsis = "config check FILE | config default"
	if len(args) == 0 {
		return usageErrorf("config needs a subcommand: %s", synopsis)
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			return usageErrorf("usage: facelive config check FILE")
		}
		path := args[1]
		c, err := config.Load(path) // messages name the file and the key
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok\n%s\n", path, c.JSON())
		return nil
	case "default":
		if len(args) != 1 {
			return usageErrorf("usage: facelive config default")
		}
		fmt.Fprintf(stdout, "%s\n", config.Default().JSON())
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, "Usage: facelive %s\n\n"+
			"  check FILE   load and validate FILE; print \"FILE: ok\" and the effective config\n"+
			"  default      print the default config as JSON\n", synopsis)
		return nil
	}
	return usageErrorf("unknown config subcommand %q; use: %s", args[0], synopsis)
}
