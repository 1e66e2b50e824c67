//! One gateway-side WebSocket connection: push frames, record ACKs.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::state::{Conn, Inner, Outbound};

pub(crate) async fn serve(
    inner: Arc<Inner>,
    socket: WebSocket,
    subscriptions: Vec<(String, String)>,
    client_id: String,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = {
        let mut s = inner.lock();
        s.next_conn += 1;
        let id = s.next_conn;
        s.connections.insert(
            id,
            Conn {
                tx,
                subscriptions,
                client_id,
                routable: true,
                open: true,
                opened_at: inner.started.elapsed(),
                closed_at: None,
            },
        );
        id
    };
    inner.bump();
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Outbound::Text(t)) => {
                    if sink.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
                Some(Outbound::Drop) => break,
                Some(Outbound::Freeze) => {
                    // Hold the socket, answer nothing, until told to close or drop.
                    while let Some(m) = rx.recv().await {
                        if matches!(m, Outbound::Close | Outbound::Drop) {
                            break;
                        }
                    }
                    break;
                }
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => inner.record_ack(id, &t),
                Some(Ok(Message::Close(_))) => {
                    // The WebSocket layer queued the RFC 6455 close echo; flush it.
                    // Clients such as Python's `websockets` otherwise wait out their
                    // close timeout and treat the close as a network error.
                    let _ = sink.close().await;
                    break;
                }
                None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    {
        let mut s = inner.lock();
        if let Some(c) = s.connections.get_mut(&id) {
            c.open = false;
            c.routable = false;
            c.closed_at = Some(inner.started.elapsed());
        }
    }
    inner.bump();
}
