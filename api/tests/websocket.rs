//! GraphQL over a real WebSocket (graphql-transport-ws): the caller is checked for every operation on the
//! connection, so signing out reaches a connection that is already open.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use domain::role::Role;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{graphql, signed_in, state};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn serve(state: api::state::AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = api::http::app(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

async fn connect(address: SocketAddr, token: Option<&str>) -> Socket {
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_message(&mut socket).await["type"], "connection_ack");
    socket
}

async fn next_message(socket: &mut Socket) -> Value {
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Runs one operation on the connection and returns its first `next` payload (or its error).
async fn run(socket: &mut Socket, id: &str, query: &str) -> Value {
    let subscribe = json!({ "id": id, "type": "subscribe", "payload": { "query": query } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    loop {
        let message = next_message(socket).await;
        // Earlier operations end with a `complete` of their own.
        if message["type"] != "complete" {
            assert_eq!(message["id"], id, "{message}");
            return message;
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn signing_out_reaches_an_open_websocket(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Admin]).await;
    let address = serve(state.clone()).await;
    let mut socket = connect(address, Some(&token)).await;

    let before = run(&mut socket, "1", "{ me { email } }").await;
    assert_eq!(before["type"], "next", "{before}");
    assert!(
        before["payload"]["data"]["me"]["email"].is_string(),
        "{before}"
    );

    assert_eq!(
        graphql(&state, Some(&token), "mutation { logout }").await["data"]["logout"],
        true
    );
    let after = run(&mut socket, "2", "{ me { email } }").await;
    assert_eq!(
        after["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{after}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn anonymous_websockets_may_not_introspect_or_subscribe(pool: PgPool) {
    let state = state(&pool);
    let address = serve(state).await;
    let mut socket = connect(address, None).await;
    let introspection = run(&mut socket, "1", "{ __schema { queryType { name } } }").await;
    assert!(
        introspection["payload"]["data"]["__schema"].is_null(),
        "{introspection}"
    );
    let subscription = run(
        &mut socket,
        "2",
        "subscription { projectionProgress { name } }",
    )
    .await;
    let code = &subscription["payload"][0]["extensions"]["code"];
    let code = if code.is_null() {
        &subscription["payload"]["errors"][0]["extensions"]["code"]
    } else {
        code
    };
    assert_eq!(code, "UNAUTHENTICATED", "{subscription}");
}
