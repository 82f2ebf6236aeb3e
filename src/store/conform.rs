//! Reading part files that another tool rewrote: polars and pyarrow write the same values in
//! other Arrow encodings (`large_string`, `string_view`, `large_binary`, dictionary-encoded
//! strings, `int16`/`int32`/`int64` label columns, `uint32` height/width). Every store reader
//! (training, prediction, validation) takes its columns through [`column`], which casts such a
//! column to the type the store declares ([`schema`](super::schema::schema)); a value that does
//! not fit (a label 300, a height 70000) is an error naming the column, never a wrapped or
//! silently nulled value, and a column of an unrelated type (text where a number belongs) is
//! an error, never a panic.

use std::collections::HashMap;
use std::sync::LazyLock;

use arrow::array::{ArrayRef, AsArray, BinaryArray, PrimitiveArray, RecordBatch, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{ArrowPrimitiveType, DataType};
use arrow::error::ArrowError;

use super::schema::schema;

static STORE_TYPES: LazyLock<HashMap<String, DataType>> =
    LazyLock::new(|| schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect());

/// The declared type of a store column (`None`: not a store column).
pub fn store_type(name: &str) -> Option<&'static DataType> {
    STORE_TYPES.get(name)
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_text(v),
        _ => false,
    }
}

fn is_bytes(t: &DataType) -> bool {
    match t {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => true,
        DataType::Dictionary(_, v) => is_bytes(v),
        _ => false,
    }
}

/// True when `found` holds values of the store type `want` in another Arrow encoding: text as
/// text, bytes as bytes, an integer as an integer of any width, a float as a float.
pub fn equivalent(found: &DataType, want: &DataType) -> bool {
    if found == want {
        return true;
    }
    match want {
        DataType::Utf8 => is_text(found),
        DataType::Binary => is_bytes(found),
        w if w.is_integer() => found.is_integer(),
        w if w.is_floating() => found.is_floating(),
        _ => false,
    }
}

/// `col` (column `name`) as the type `want`: unchanged when it already is, cast when it is an
/// [`equivalent`] encoding (values that do not fit are an error), an error otherwise.
pub fn cast_to(col: &ArrayRef, name: &str, want: &DataType) -> Result<ArrayRef, ArrowError> {
    let found = col.data_type();
    if found == want {
        return Ok(col.clone());
    }
    if !equivalent(found, want) {
        return Err(ArrowError::CastError(format!("column `{name}` is {found}, the store declares {want}")));
    }
    let strict = CastOptions { safe: false, ..Default::default() };
    cast_with_options(col, want, &strict)
        .map_err(|e| ArrowError::CastError(format!("column `{name}` ({found}) does not fit {want}: {e}")))
}

/// Column `name` of `batch` in its store type (`Ok(None)` when the batch lacks it; a column
/// that is not a store column is returned as is).
pub fn column(batch: &RecordBatch, name: &str) -> Result<Option<ArrayRef>, ArrowError> {
    let Some(col) = batch.column_by_name(name) else { return Ok(None) };
    match store_type(name) {
        Some(want) => cast_to(col, name, want).map(Some),
        None => Ok(Some(col.clone())),
    }
}

/// Column `name` of `batch` as Utf8 text (see [`column`]).
pub fn text(batch: &RecordBatch, name: &str) -> Result<Option<StringArray>, ArrowError> {
    column(batch, name)?.map(|c| c.as_string_opt::<i32>().cloned().ok_or_else(|| wrong(name, &c, "Utf8"))).transpose()
}

/// Column `name` of `batch` as Binary (see [`column`]).
pub fn bytes(batch: &RecordBatch, name: &str) -> Result<Option<BinaryArray>, ArrowError> {
    column(batch, name)?.map(|c| c.as_binary_opt::<i32>().cloned().ok_or_else(|| wrong(name, &c, "Binary"))).transpose()
}

/// Column `name` of `batch` as the primitive type `T` (see [`column`]).
pub fn primitive<T: ArrowPrimitiveType>(batch: &RecordBatch, name: &str) -> Result<Option<PrimitiveArray<T>>, ArrowError> {
    column(batch, name)?
        .map(|c| c.as_primitive_opt::<T>().cloned().ok_or_else(|| wrong(name, &c, &T::DATA_TYPE.to_string())))
        .transpose()
}

/// Fails when a column was not found.
pub fn required<A>(col: Option<A>, name: &str) -> Result<A, ArrowError> {
    col.ok_or_else(|| ArrowError::SchemaError(format!("part file lacks the store column `{name}`")))
}

fn wrong(name: &str, col: &ArrayRef, want: &str) -> ArrowError {
    ArrowError::CastError(format!("column `{name}` is {}, expected {want}", col.data_type()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, Int32Array, LargeStringArray, StringArray, UInt32Array};
    use arrow::datatypes::{Int8Type, UInt16Type};

    use super::*;

    #[test]
    fn other_encodings_cast_and_overflow_is_an_error() {
        let s: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("a"), None]));
        let c = cast_to(&s, "image_id", &DataType::Utf8).unwrap();
        assert_eq!(c.as_string::<i32>().value(0), "a");
        assert!(c.is_null(1));
        let l: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(-1)]));
        let c = cast_to(&l, "mass", &DataType::Int8).unwrap();
        assert_eq!(c.as_primitive::<Int8Type>().values().to_vec(), vec![1, 0, -1]);
        let big: ArrayRef = Arc::new(Int32Array::from(vec![300]));
        assert!(cast_to(&big, "mass", &DataType::Int8).is_err());
        let h: ArrayRef = Arc::new(UInt32Array::from(vec![224]));
        assert_eq!(cast_to(&h, "height", &DataType::UInt16).unwrap().as_primitive::<UInt16Type>().value(0), 224);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["1"]));
        let e = cast_to(&text, "mass", &DataType::Int8).unwrap_err().to_string();
        assert!(e.contains("`mass`") && e.contains("Utf8"), "{e}");
    }
}
