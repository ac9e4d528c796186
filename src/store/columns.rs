//! Column decoders for Rust types PostgreSQL does not have, for `#[sqlx(try_from = ...)]` on
//! row fields: an `inet`/`cidr` column that must hold IPv4. A stored value that does not fit
//! is a decoding error, never a silent default.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

/// An `inet` or `cidr` value that holds IPv4.
pub(crate) struct V4(Ipv4Net);

impl sqlx::Type<sqlx::Postgres> for V4 {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <IpNet as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <IpNet as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for V4 {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <IpNet as sqlx::Decode<sqlx::Postgres>>::decode(value)? {
            IpNet::V4(net) => Ok(Self(net)),
            IpNet::V6(net) => Err(format!("unexpected IPv6 value {net}").into()),
        }
    }
}

/// The address of an `inet` host value.
impl From<V4> for Ipv4Addr {
    fn from(value: V4) -> Self {
        value.0.addr()
    }
}

impl From<V4> for Ipv4Net {
    fn from(value: V4) -> Self {
        value.0
    }
}
