package policy

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// XMLRPCSpec says which parameter of an XML-RPC call is the username.
type XMLRPCSpec struct {
	// Param is the 0-based position of the username in a call's parameters.
	// Default: 1 (WordPress's blog_id, username, password, …).
	Param int `json:"param,omitempty"`
	// Methods gives the position for methods that differ from Param (WordPress:
	// wp.getUsersBlogs takes username, password: 0).
	Methods map[string]int `json:"methods,omitempty"`
}

// DefaultXMLRPC is the spec of WordPress's xmlrpc.php.
func DefaultXMLRPC() *XMLRPCSpec {
	return &XMLRPCSpec{Param: 1, Methods: map[string]int{"wp.getUsersBlogs": 0}}
}

// noLoginMethods need no username: pingbacks, the demo and introspection.
var noLoginMethods = map[string]bool{
	"pingback.ping": true, "pingback.extensions.getPingbacks": true,
	"demo.sayHello": true, "demo.addTwoNumbers": true,
	"system.listMethods": true, "system.getCapabilities": true,
	"system.methodSignature": true, "system.methodHelp": true,
	"mt.supportedMethods": true, "mt.supportedTextFilters": true,
	"mt.getTrackbackPings": true,
}

func (x *XMLRPCSpec) param(method string) int {
	if i, ok := x.Methods[method]; ok {
		return i
	}
	return x.Param
}

// xvalue is an XML-RPC value: a scalar's text, or an array or a struct.
type xvalue struct {
	text    string
	scalar  bool
	array   []xvalue
	members map[string]xvalue
}

var errXMLRPC = errors.New("malformed XML-RPC")

// identifyXMLRPC reads the username of an XML-RPC methodCall, or of every call of
// a system.multicall.
func identifyXMLRPC(id *identity, spec *XMLRPCSpec, body []byte) {
	method, params, err := parseMethodCall(body)
	if err != nil {
		id.unreadable("in a malformed XML-RPC call")
		return
	}
	if method != "system.multicall" {
		call(id, spec, method, params, "")
		return
	}
	if len(params) != 1 || params[0].array == nil {
		id.unreadable("in a malformed system.multicall")
		return
	}
	calls := params[0].array
	shape := "an XML-RPC system.multicall of " + strconv.Itoa(len(calls)) + " calls"
	logins := 0
	for _, c := range calls {
		m, ok := c.members["methodName"]
		p, okp := c.members["params"]
		if !ok || !m.scalar || !okp {
			continue // the portal faults such a call without logging in
		}
		if call(id, spec, m.text, p.array, shape) {
			logins++
		}
	}
	id.Logins = logins
	if logins == 0 && len(id.Candidates) == 0 && id.Unreadable == "" {
		id.NotLogin = true
	}
}

// call adds the username of one call; it reports whether the call logs in.
func call(id *identity, spec *XMLRPCSpec, method string, params []xvalue, shape string) bool {
	if noLoginMethods[method] || method == "system.multicall" {
		if shape == "" {
			id.NotLogin = true
		}
		return false
	}
	i := spec.param(method)
	if i >= len(params) {
		return false // the portal answers "insufficient arguments" without logging in
	}
	v := params[i]
	if !v.scalar {
		id.unreadable("an XML-RPC array or struct")
		return true
	}
	id.add(v.text, shape)
	return true
}

// parseMethodCall decodes a methodCall document.
func parseMethodCall(body []byte) (method string, params []xvalue, err error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	budget := 10000
	se, err := nextStart(d)
	if err != nil || se.Name.Local != "methodCall" {
		return "", nil, errXMLRPC
	}
	for {
		se, err := nextStart(d)
		if err == io.EOF || errors.Is(err, errEnd) {
			return method, params, nil
		}
		if err != nil {
			return "", nil, err
		}
		switch se.Name.Local {
		case "methodName":
			s, err := text(d)
			if err != nil {
				return "", nil, err
			}
			method = strings.TrimSpace(s)
		case "params":
			for {
				pe, err := nextStart(d)
				if errors.Is(err, errEnd) {
					break
				}
				if err != nil || pe.Name.Local != "param" {
					return "", nil, errXMLRPC
				}
				ve, err := nextStart(d)
				if err != nil || ve.Name.Local != "value" {
					return "", nil, errXMLRPC
				}
				v, err := parseValue(d, 0, &budget)
				if err != nil {
					return "", nil, err
				}
				params = append(params, v)
				if err := endOf(d); err != nil { // </param>
					return "", nil, err
				}
			}
		default:
			if err := d.Skip(); err != nil {
				return "", nil, err
			}
		}
	}
}

var errEnd = errors.New("end element")

// nextStart returns the next start element, skipping character data, comments and
// processing instructions; errEnd when an end element comes first.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		t, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, errEnd
		case xml.Directive:
			return xml.StartElement{}, errXMLRPC // a DOCTYPE may define entities
		}
	}
}

// endOf consumes tokens up to the next end element.
func endOf(d *xml.Decoder) error {
	_, err := nextStart(d)
	if errors.Is(err, errEnd) {
		return nil
	}
	if err == nil {
		return errXMLRPC
	}
	return err
}

// text returns the character data of the current element and consumes its end.
func text(d *xml.Decoder) (string, error) {
	var b strings.Builder
	for {
		t, err := d.Token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			if b.Len()+len(t) > MaxBody {
				return "", errXMLRPC
			}
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			return "", errXMLRPC
		}
	}
}

// parseValue decodes the contents of a <value> element and consumes its end.
func parseValue(d *xml.Decoder, depth int, budget *int) (xvalue, error) {
	*budget--
	if depth > 32 || *budget < 0 {
		return xvalue{}, errXMLRPC
	}
	var raw strings.Builder
	for {
		t, err := d.Token()
		if err != nil {
			return xvalue{}, err
		}
		switch t := t.(type) {
		case xml.CharData:
			raw.Write(t)
		case xml.EndElement:
			// A value without a type element is a string.
			return xvalue{text: raw.String(), scalar: true}, nil
		case xml.Directive:
			return xvalue{}, errXMLRPC
		case xml.StartElement:
			var v xvalue
			switch t.Name.Local {
			case "array":
				v, err = parseArray(d, depth, budget)
			case "struct":
				v, err = parseStruct(d, depth, budget)
			default: // string, int, i4, double, boolean, base64, dateTime.iso8601, nil
				var s string
				s, err = text(d)
				v = xvalue{text: s, scalar: true}
			}
			if err != nil {
				return xvalue{}, err
			}
			return v, endOf(d) // </value>
		}
	}
}

func parseArray(d *xml.Decoder, depth int, budget *int) (xvalue, error) {
	v := xvalue{array: []xvalue{}}
	de, err := nextStart(d)
	if errors.Is(err, errEnd) {
		return v, nil
	}
	if err != nil || de.Name.Local != "data" {
		return v, errXMLRPC
	}
	for {
		ve, err := nextStart(d)
		if errors.Is(err, errEnd) { // </data>
			return v, endOf(d) // </array>
		}
		if err != nil || ve.Name.Local != "value" {
			return v, errXMLRPC
		}
		e, err := parseValue(d, depth+1, budget)
		if err != nil {
			return v, err
		}
		v.array = append(v.array, e)
	}
}

func parseStruct(d *xml.Decoder, depth int, budget *int) (xvalue, error) {
	v := xvalue{members: map[string]xvalue{}}
	for {
		me, err := nextStart(d)
		if errors.Is(err, errEnd) {
			return v, nil
		}
		if err != nil || me.Name.Local != "member" {
			return v, errXMLRPC
		}
		var name string
		var val xvalue
		for {
			e, err := nextStart(d)
			if errors.Is(err, errEnd) {
				break
			}
			if err != nil {
				return v, err
			}
			switch e.Name.Local {
			case "name":
				if name, err = text(d); err != nil {
					return v, err
				}
			case "value":
				if val, err = parseValue(d, depth+1, budget); err != nil {
					return v, err
				}
			default:
				return v, errXMLRPC
			}
		}
		v.members[strings.TrimSpace(name)] = val
	}
}

// XMLRPCResults reads the answer to a system.multicall: for each call, whether it
// faulted and its fault code. ok is false when body is not such an answer.
func XMLRPCResults(body []byte) (faults []int, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	budget := 100000
	se, err := nextStart(d)
	if err != nil || se.Name.Local != "methodResponse" {
		return nil, false
	}
	se, err = nextStart(d)
	if err != nil || se.Name.Local != "params" {
		return nil, false
	}
	if se, err = nextStart(d); err != nil || se.Name.Local != "param" {
		return nil, false
	}
	if se, err = nextStart(d); err != nil || se.Name.Local != "value" {
		return nil, false
	}
	v, err := parseValue(d, 0, &budget)
	if err != nil || v.array == nil {
		return nil, false
	}
	faults = make([]int, len(v.array))
	for i, r := range v.array {
		if r.members != nil { // a fault struct; a result is an array of one value
			code, err := strconv.Atoi(strings.TrimSpace(r.members["faultCode"].text))
			if err != nil {
				code = -1
			}
			faults[i] = code
		}
	}
	return faults, true
}
