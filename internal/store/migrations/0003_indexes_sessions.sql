-- Shared: partial index for the pending queue, history paging indexes, and
-- the session-to-node map for several nodes behind one database.
CREATE INDEX message_pending ON message (rcpt, id) WHERE state = 0;
CREATE INDEX message_done ON message (updated) WHERE state <> 0;
CREATE INDEX history_owner_peer ON history (owner, peer, t, id);
CREATE INDEX history_owner ON history (owner, t, id);

CREATE TABLE relay_session (
    skey    TEXT   NOT NULL PRIMARY KEY,
    node    TEXT   NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX relay_session_expires ON relay_session (expires);
