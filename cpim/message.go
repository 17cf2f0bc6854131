package cpim

// Message is a parsed message/cpim object (RFC 3862 §2). The cpim helper
// owns this file and fills it in; the type name is a contract.
type Message struct{}
