//! The public web card's load: HTTP/1.1 keep-alive connections, one per
//! worker, each sending its next GET when the last answer was read in full
//! — the same closed loop as the gRPC workloads, for the card and for the
//! bare HTTP floor alike. A few lines of HTTP/1.1 rather than a client
//! library: the load generator then costs both sides the same.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::load::{self, Measurement, Until};

/// One keep-alive connection.
pub struct Connection {
    stream: BufReader<TcpStream>,
    host: String,
    head: String,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            host: addr.to_string(),
            head: String::with_capacity(512),
        })
    }

    /// `GET path` with `accept`; the status, once the body was read.
    pub async fn get(&mut self, path: &str, accept: &str) -> std::io::Result<u16> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\nAccept-Language: en\r\n\r\n",
            self.host
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut status = 0;
        let mut length = 0_usize;
        let mut first = true;
        loop {
            self.head.clear();
            if self.stream.read_line(&mut self.head).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = self.head.trim_end();
            if line.is_empty() {
                break;
            }
            if first {
                status = line
                    .split(' ')
                    .nth(1)
                    .and_then(|code| code.parse().ok())
                    .unwrap_or(0);
                first = false;
            } else if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok(status)
    }
}

/// `connections` closed loops of GETs, the path of call `index` from
/// `path(index)`, until `until`; anything but 200 is an error.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    accept: &'static str,
    path: impl Fn(u64) -> String + Send + Sync + 'static,
    until: Until,
) -> anyhow::Result<Measurement> {
    let mut pool = Vec::with_capacity(connections);
    for _ in 0..connections {
        pool.push(Arc::new(Mutex::new(Connection::open(addr).await?)));
    }
    let pool = Arc::new(pool);
    let path = Arc::new(path);
    Ok(load::run(connections, until, move |worker, index| {
        let connection = Arc::clone(&pool[worker]);
        let path = path(index);
        async move {
            let mut connection = connection.lock().await;
            match connection.get(&path, accept).await {
                Ok(200) => Ok(1),
                Ok(status) => Err(format!("HTTP {status} for {path}")),
                Err(error) => Err(format!("{error} for {path}")),
            }
        }
    })
    .await)
}
