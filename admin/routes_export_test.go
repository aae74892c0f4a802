package admin

// Routes lists every route of the handler as "METHOD path", a path that ends
// in a parameter as "METHOD /prefix/{}", for the tests of package admin_test.
func Routes() []string {
	var out []string
	for path, routes := range paths {
		for _, r := range routes {
			out = append(out, r.method+" "+path)
		}
	}
	for _, p := range prefixes {
		for _, r := range p.routes {
			out = append(out, r.method+" "+p.prefix+"{}")
		}
	}
	return out
}
