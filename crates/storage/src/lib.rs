//! berth's image store: content-addressed blobs, unpacked layers, images,
//! the metadata database and overlay assembly.
