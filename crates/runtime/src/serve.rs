//! Serving a router on a loopback listener with the socket options latency needs.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, UnixListener};

/// Accepts connections on the loopback listener and, when there is one, the private Unix
/// socket (see [`bind_abstract`]) until the task is aborted. TCP connections get
/// TCP_NODELAY: with Nagle on, a keep-alive response whose head and body leave in separate
/// writes waits ~40 ms for a delayed ACK.
pub(crate) async fn serve(tcp: TcpListener, unix: Option<UnixListener>, router: Router) {
    loop {
        let unix_accept = async {
            match &unix {
                Some(u) => u.accept().await.map(|(s, _)| s),
                None => std::future::pending().await,
            }
        };
        let accepted = tokio::select! {
            r = tcp.accept() => r.map(|(s, _)| {
                let _ = s.set_nodelay(true);
                spawn_connection(s, router.clone());
            }),
            r = unix_accept => r.map(|s| spawn_connection(s, router.clone())),
        };
        if let Err(e) = accepted {
            tracing::debug!(error = %e, "accept failed");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

fn spawn_connection<S>(stream: S, router: Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    tokio::spawn(async move {
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().pipeline_flush(true);
        let _ = builder
            .http1_only()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

/// Binds a Unix socket in Linux's abstract namespace: no file to create or clean up, and
/// reachable from inside the environment's mount namespace. Only ledge's own bootstraps
/// use it (named by `_LEDGE_RUNTIME_SOCKET`, removed before user code runs); user code and
/// custom runtimes see the loopback `AWS_LAMBDA_RUNTIME_API` as on Lambda.
pub(crate) fn bind_abstract(name: &str) -> std::io::Result<UnixListener> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    let std_listener = std::os::unix::net::UnixListener::bind_addr(&addr)?;
    std_listener.set_nonblocking(true)?;
    UnixListener::from_std(std_listener)
}
