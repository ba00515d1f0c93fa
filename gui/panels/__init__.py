"""The window's views of one run: units lanes, layer heat-maps, cell inspector, input, compare, badges."""
