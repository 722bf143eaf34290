//! A benchmark reference, never a product path: Pingora 0.9.1's stock
//! `ProxyHttp` loop forwarding every request to one upstream, with the same
//! features, allocator and thread count as modelgate. What it costs per
//! request is the framework's floor; modelgate's cost above it is its own
//! (body parsing, routing, auth rewrite, reply checks). `bench/run.sh
//! --targets direct,nginx,pingora,modelgate` puts it in the table.
//!
//! Usage: `pingora-floor <listen addr> <upstream addr>`

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Forward {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Forward {
    type CTX = ();

    fn new_ctx(&self) {}

    /// Like modelgate: no downstream modules.
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.upstream.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: pingora-floor <listen addr> <upstream addr>");
        return ExitCode::from(2);
    };
    let Some(mut conf) = ServerConf::new() else {
        eprintln!("pingora-floor: cannot build the default server configuration");
        return ExitCode::from(1);
    };
    conf.threads = 1;
    conf.upstream_keepalive_pool_size = 256;
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let forward = Forward {
        upstream: upstream.clone(),
    };
    let mut service = pingora::proxy::http_proxy_service(&server.configuration, forward);
    service.add_tcp(listen);
    server.add_service(service);
    server.run_forever()
}
