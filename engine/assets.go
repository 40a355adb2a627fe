package engine

import "facelive/internal/assets"

// findAssets returns where models and the default face live: the config's
// assets_dir, else what package assets finds ($FACELIVE_THIRD_PARTY, or the
// third_party/ folder make deps fills, above the program or the working
// directory). "" when there is none.
func findAssets(configured string) string {
	if configured != "" {
		return configured
	}
	return assets.Dir()
}
