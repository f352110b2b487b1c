//! Serving a router on a loopback listener with the socket options latency needs.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, UnixListener};

/// Accepts connections until the task is aborted. Each connection gets TCP_NODELAY:
/// with Nagle on, a keep-alive response whose head and body leave in separate writes
/// waits ~40 ms for a delayed ACK.
pub(crate) async fn serve(listener: TcpListener, router: Router) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Serves `router` on a Unix socket: the managed runtimes' private way in (see
/// [`bind_abstract`]). Same HTTP as the loopback listener, cheaper per message.
pub(crate) async fn serve_unix(listener: UnixListener, router: Router) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
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
