package messagesdp_test

import (
	"testing"

	"github.com/parley-im/parley/messagesdp"
)

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"rcs-offer.sdp", "multi-offer.sdp"} {
		in := golden(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := messagesdp.Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	in := golden(b, "rcs-offer.sdp")
	b.Run("parsed", func(b *testing.B) {
		d, err := messagesdp.Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			d.Marshal()
		}
	})
	b.Run("built", func(b *testing.B) {
		d, err := messagesdp.Build(&messagesdp.Media{
			Proto: messagesdp.ProtoMSRPS, Port: 9, Address: "10.0.0.5", Formats: []string{"*"},
			AcceptTypes:        []string{"message/cpim", "application/im-iscomposing+xml"},
			AcceptWrappedTypes: []string{"text/plain", "message/imdn+xml"},
			Setup:              messagesdp.SetupActpass,
			Path:               []string{"msrps://10.0.0.5:9/hjdtr2k8h7wq;tcp"},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			d.Marshal()
		}
	})
}
