//! Rows of a batch's columns packed into records: the engine keeps the events of flagged
//! sessions for drill-down as packed numpy records (`uxtop.engine.records`), one gather per
//! batch. numpy does it one field at a time, a strided write over the whole block per field
//! (18 passes over a block bigger than the cache); here each block of records is filled while
//! it sits in L1, one field after another.

use crate::error::CoreError;

/// One field of a packed record: where it sits, how wide it is and the column it comes from
/// (the column's bytes, `width` per row, native endian as numpy holds them).
#[derive(Clone, Copy, Debug)]
pub struct FieldSource<'a> {
    pub offset: usize,
    pub width: usize,
    pub column: &'a [u8],
}

/// Records filled per pass over the fields: 256 records of ~72 bytes stay in L1.
const BLOCK: usize = 256;

/// `out[i]` (a record of `itemsize` bytes) gets, for each field, row `rows[i]` of its column.
/// Checks every argument first, so a bad call changes nothing and names what is wrong.
pub fn gather_records(
    out: &mut [u8],
    itemsize: usize,
    fields: &[FieldSource<'_>],
    rows: &[i64],
) -> Result<(), CoreError> {
    let bad = |m: String| Err(CoreError::Argument(m));
    if itemsize == 0 {
        return bad("itemsize must be positive".into());
    }
    if out.len() != rows.len() * itemsize {
        return bad(format!(
            "out holds {} bytes, {} rows of {itemsize} need {}",
            out.len(),
            rows.len(),
            rows.len() * itemsize
        ));
    }
    let mut n_rows: Option<usize> = None;
    for (k, f) in fields.iter().enumerate() {
        if f.width == 0 || f.offset + f.width > itemsize {
            return bad(format!(
                "field {k} ({} bytes at offset {}) does not fit a {itemsize}-byte record",
                f.width, f.offset
            ));
        }
        if f.column.len() % f.width != 0 {
            return bad(format!(
                "column {k} has {} bytes, not a whole number of {}-byte values",
                f.column.len(),
                f.width
            ));
        }
        let n = f.column.len() / f.width;
        match n_rows {
            Some(m) if m != n => {
                return bad(format!("column {k} has {n} rows, column 0 has {m}"));
            }
            _ => n_rows = Some(n),
        }
    }
    let n = n_rows.unwrap_or(0);
    if let Some((i, &r)) = rows
        .iter()
        .enumerate()
        .find(|&(_, &r)| r < 0 || r as u64 >= n as u64)
    {
        return bad(format!(
            "rows[{i}] = {r} is out of range for columns of {n} rows"
        ));
    }
    for (block, rows) in out.chunks_mut(BLOCK * itemsize).zip(rows.chunks(BLOCK)) {
        for f in fields {
            match f.width {
                1 => copy_field::<1>(block, itemsize, f, rows),
                2 => copy_field::<2>(block, itemsize, f, rows),
                4 => copy_field::<4>(block, itemsize, f, rows),
                8 => copy_field::<8>(block, itemsize, f, rows),
                _ => copy_field_any(block, itemsize, f, rows),
            }
        }
    }
    Ok(())
}

/// One field of a block of records, for a width known at compile time (a fixed-size move).
#[inline]
fn copy_field<const W: usize>(
    block: &mut [u8],
    itemsize: usize,
    f: &FieldSource<'_>,
    rows: &[i64],
) {
    for (rec, &r) in block.chunks_exact_mut(itemsize).zip(rows) {
        let at = r as usize * W;
        let v: [u8; W] = f.column[at..at + W].try_into().expect("W bytes");
        rec[f.offset..f.offset + W].copy_from_slice(&v);
    }
}

fn copy_field_any(block: &mut [u8], itemsize: usize, f: &FieldSource<'_>, rows: &[i64]) {
    let w = f.width;
    for (rec, &r) in block.chunks_exact_mut(itemsize).zip(rows) {
        let at = r as usize * w;
        rec[f.offset..f.offset + w].copy_from_slice(&f.column[at..at + w]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record layout like the engine's: i64, i32, u8, i16, a 3-byte field, packed (13+3 = 18).
    type Columns = (Vec<i64>, Vec<i32>, Vec<u8>, Vec<i16>, Vec<[u8; 3]>);

    fn columns(n: usize) -> Columns {
        (
            (0..n as i64).map(|i| i * 1_000_003 - 7).collect(),
            (0..n as i32).map(|i| -i * 31).collect(),
            (0..n).map(|i| (i * 7) as u8).collect(),
            (0..n).map(|i| (i as i16).wrapping_mul(-3)).collect(),
            (0..n).map(|i| [i as u8, (i >> 8) as u8, 0xAB]).collect(),
        )
    }

    fn field(offset: usize, width: usize, column: &[u8]) -> FieldSource<'_> {
        FieldSource {
            offset,
            width,
            column,
        }
    }

    fn bytes_of<T: Copy>(v: &[T]) -> &[u8] {
        // SAFETY: plain-old-data columns viewed as their bytes, as numpy's buffer would be
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
    }

    #[test]
    fn packs_each_row_of_each_column_at_its_offset() {
        let n = 1000;
        let (a, b, c, d, e) = columns(n);
        let e_bytes: Vec<u8> = e.iter().flatten().copied().collect();
        let fields = [
            field(0, 8, bytes_of(&a)),
            field(8, 4, bytes_of(&b)),
            field(12, 1, &c),
            field(13, 2, bytes_of(&d)),
            field(15, 3, &e_bytes),
        ];
        // more rows than a block, in no order, with repeats
        let rows: Vec<i64> = (0..700).map(|i| (i * 337 % n) as i64).collect();
        let mut out = vec![0u8; rows.len() * 18];
        gather_records(&mut out, 18, &fields, &rows).unwrap();
        for (rec, &r) in out.chunks_exact(18).zip(&rows) {
            let r = r as usize;
            assert_eq!(i64::from_ne_bytes(rec[0..8].try_into().unwrap()), a[r]);
            assert_eq!(i32::from_ne_bytes(rec[8..12].try_into().unwrap()), b[r]);
            assert_eq!(rec[12], c[r]);
            assert_eq!(i16::from_ne_bytes(rec[13..15].try_into().unwrap()), d[r]);
            assert_eq!(&rec[15..18], &e[r]);
        }
    }

    #[test]
    fn bad_arguments_are_named_and_change_nothing() {
        let (a, b, ..) = columns(10);
        let ok = |out: &mut [u8], fields: &[FieldSource<'_>], rows: &[i64]| {
            gather_records(out, 12, fields, rows)
        };
        let fields = [field(0, 8, bytes_of(&a)), field(8, 4, bytes_of(&b))];
        let mut out = vec![0x55u8; 24];
        let msg = |r: Result<(), CoreError>| match r {
            Err(CoreError::Argument(m)) => m,
            other => panic!("expected an argument error, got {other:?}"),
        };
        assert!(msg(ok(&mut out, &fields, &[0, 10])).contains("rows[1] = 10 is out of range"));
        assert!(msg(ok(&mut out, &fields, &[-1, 0])).contains("rows[0] = -1"));
        assert!(msg(ok(&mut out, &fields, &[0])).contains("out holds 24 bytes"));
        let short = [
            fields[0],
            FieldSource {
                column: &bytes_of(&b)[..36],
                ..fields[1]
            },
        ];
        assert!(msg(ok(&mut out, &short, &[0, 1])).contains("column 1 has 9 rows"));
        let wide = [field(8, 8, bytes_of(&a))];
        assert!(msg(ok(&mut out, &wide, &[0, 1])).contains("does not fit a 12-byte record"));
        let ragged = [field(0, 8, &bytes_of(&a)[..12])];
        assert!(msg(ok(&mut out, &ragged, &[0, 1])).contains("not a whole number"));
        assert!(
            out.iter().all(|&x| x == 0x55),
            "a refused call wrote nothing"
        );
        // no rows, no fields: nothing to do, no error
        assert_eq!(gather_records(&mut [], 12, &fields, &[]), Ok(()));
    }
}
