package hostile

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestZZDebug(t *testing.T) {
	s := startServer(t)
	raddr, _ := net.ResolveUDPAddr("udp", sipAddr(s, "udp"))
	uc, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer uc.Close()
	go func() {
		b := make([]byte, 65536)
		for {
			if _, _, err := uc.ReadFromUDP(b); err != nil {
				return
			}
		}
	}()
	h0 := heapAlloc()
	start := time.Now()
	i := 0
	for ; time.Since(start) < 8*time.Second; i++ {
		req := fmt.Sprintf("REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-r%d\r\nMax-Forwards: 70\r\nFrom: <sip:bob@localhost>;tag=r%d\r\nTo: <sip:bob@localhost>\r\nCall-ID: reg%d@hostile\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n", uc.LocalAddr(), i, i, i)
		uc.WriteToUDP([]byte(req), raddr)
		if i%1000 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	t.Logf("%d REGISTERs without credentials in 8 s: heap +%d MB", i, int64(heapAlloc()-h0)>>20)
	time.Sleep(40 * time.Second)
	t.Logf("40 s later: heap +%d MB", int64(heapAlloc()-h0)>>20)
	_ = strings.Contains
}
