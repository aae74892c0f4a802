package codec

import (
	"cmp"
	"slices"
	"strings"

	"github.com/loginguard/loginguard/logstore"
)

// GeoAcc accumulates the location and device breakdowns of Stats: attempts
// per country and per device type, failures per autonomous system with the
// organisations they name. Both stores add rollup counts and raw events to
// one, by name (a store keeping dictionary ids resolves them first).
type GeoAcc struct {
	countries, devices map[string]*[2]int64       // successes, failures
	asns               map[int64]map[string]int64 // failures per organisation
}

// NewGeoAcc returns an empty accumulator.
func NewGeoAcc() *GeoAcc {
	return &GeoAcc{countries: map[string]*[2]int64{}, devices: map[string]*[2]int64{}, asns: map[int64]map[string]int64{}}
}

// typeIndex returns 0 for a success code, 1 for a failure code, -1 else.
func typeIndex(code int64) int {
	switch code & TypeMask {
	case SuccessCode:
		return 0
	case FailureCode:
		return 1
	}
	return -1
}

func addTo(m map[string]*[2]int64, key string, i int, n int64) {
	c := m[key]
	if c == nil {
		c = new([2]int64)
		m[key] = c
	}
	c[i] += n
}

// AddCountry adds n attempts of code (only successes and failures count)
// from country cc ("" is skipped).
func (a *GeoAcc) AddCountry(cc string, code, n int64) {
	if i := typeIndex(code); i >= 0 && cc != "" {
		addTo(a.countries, strings.ToUpper(cc), i, n)
	}
}

// AddDevice adds n attempts of code from device type dev ("" is skipped).
func (a *GeoAcc) AddDevice(dev string, code, n int64) {
	if i := typeIndex(code); i >= 0 && dev != "" {
		addTo(a.devices, dev, i, n)
	}
}

// AddASN adds n failures from asn naming organisation org (asn 0 is skipped).
func (a *GeoAcc) AddASN(asn int64, org string, n int64) {
	if asn == 0 {
		return
	}
	m := a.asns[asn]
	if m == nil {
		m = map[string]int64{}
		a.asns[asn] = m
	}
	m[org] += n
}

// AddEvent adds one raw event of code, standing for n attempts
// (event.Event.Attempts).
func (a *GeoAcc) AddEvent(code int64, cc string, asn int64, org, dev string, n int64) {
	a.AddCountry(cc, code, n)
	a.AddDevice(dev, code, n)
	if code&TypeMask == FailureCode {
		a.AddASN(asn, org, n)
	}
}

// Result sets st's ByCountry, TopASNs and ByDeviceType: the top of each,
// most first, ties by key. An ASN's organisation is the one most of its
// failures named ("" when none named one).
func (a *GeoAcc) Result(st *logstore.Stats, top int) {
	st.ByCountry, st.TopASNs, st.ByDeviceType = []logstore.CountryCount{}, []logstore.ASNCount{}, []logstore.DeviceCount{}
	if top <= 0 {
		return
	}
	for cc, c := range a.countries {
		if c[0]+c[1] > 0 {
			st.ByCountry = append(st.ByCountry, logstore.CountryCount{Country: cc, Attempts: c[0] + c[1], Successes: c[0], Failures: c[1]})
		}
	}
	slices.SortFunc(st.ByCountry, func(x, y logstore.CountryCount) int {
		return cmp.Or(cmp.Compare(y.Attempts, x.Attempts), cmp.Compare(x.Country, y.Country))
	})
	st.ByCountry = st.ByCountry[:min(top, len(st.ByCountry))]
	for dev, c := range a.devices {
		if c[0]+c[1] > 0 {
			st.ByDeviceType = append(st.ByDeviceType, logstore.DeviceCount{DeviceType: dev, Attempts: c[0] + c[1], Successes: c[0], Failures: c[1]})
		}
	}
	slices.SortFunc(st.ByDeviceType, func(x, y logstore.DeviceCount) int {
		return cmp.Or(cmp.Compare(y.Attempts, x.Attempts), cmp.Compare(x.DeviceType, y.DeviceType))
	})
	st.ByDeviceType = st.ByDeviceType[:min(top, len(st.ByDeviceType))]
	for asn, orgs := range a.asns {
		c := logstore.ASNCount{ASN: asn}
		var best int64
		for org, n := range orgs {
			c.Failures += n
			if org != "" && n > 0 && (n > best || n == best && org < c.Org) {
				c.Org, best = org, n
			}
		}
		if c.Failures > 0 {
			st.TopASNs = append(st.TopASNs, c)
		}
	}
	slices.SortFunc(st.TopASNs, func(x, y logstore.ASNCount) int {
		return cmp.Or(cmp.Compare(y.Failures, x.Failures), cmp.Compare(x.ASN, y.ASN))
	})
	st.TopASNs = st.TopASNs[:min(top, len(st.TopASNs))]
}
