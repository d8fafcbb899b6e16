//! Adapters the binary plugs between components that may not know each other (design.md):
//! the authorization server's CIBA `ipport:` hints resolved through the ingress's bindings.

use numbat_authorization_server::ciba::AddressResolver;
use numbat_core::Msisdn;
use numbat_network_ingress::bindings::Bindings;
use numbat_store::StoreError;
use std::net::IpAddr;

pub struct BindingsResolver {
    pub bindings: Bindings,
    pub domain: String,
}

#[async_trait::async_trait]
impl AddressResolver for BindingsResolver {
    async fn resolve(&self, ip: IpAddr, _port: Option<u16>) -> Result<Option<Msisdn>, StoreError> {
        Ok(self.bindings.lookup(&self.domain, ip).await?.map(|b| b.msisdn))
    }
}
