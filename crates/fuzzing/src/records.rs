//! The framing of the binary targets' inputs: records, each a big-endian `u16` length
//! and that many bytes (the last one cut short where the input ends).

/// The records of `data`, in order.
pub fn records(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
        let (record, tail) = tail.split_at(len);
        rest = tail;
        Some(record)
    })
}

/// `records` framed as [`records`] reads them (for writing seeds).
pub fn frame<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        let len = u16::try_from(record.len()).expect("a record of at most 65535 bytes");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(record);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_what_was_framed_and_a_cut_one_is_shortened() {
        let data = frame([&b"ab"[..], b"", b"xyz"]);
        assert_eq!(
            records(&data).collect::<Vec<_>>(),
            [&b"ab"[..], b"", b"xyz"]
        );
        assert_eq!(records(&data[..data.len() - 1]).last(), Some(&b"xy"[..]));
        assert_eq!(records(&[0]).count(), 0);
    }
}
