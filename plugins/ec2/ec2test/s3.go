package ec2test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Enough of Amazon S3 for staging a binary and shipping evidence, in the
// REST protocol with path-style addresses (an SDK client sets
// UsePathStyle; the AWS CLI uses path style for an IP endpoint):
// CreateBucket, HeadBucket, ListBuckets, PutObject, GetObject (with Range),
// HeadObject, DeleteObject, ListObjectsV2, and the multipart upload the AWS
// CLI uses for large files. Presigned URLs work as the real ones do
// (X-Amz-Expires is honoured). Request bodies sent with aws-chunked
// content encoding (the SDKs' and CLI's streaming checksums) are decoded.
// Signatures are not checked, as elsewhere in this emulator.

// MaxObjectSize bounds one object (and one multipart upload) in the
// emulator's memory.
const MaxObjectSize = 512 << 20

type s3Object struct {
	data        []byte
	etag        string
	contentType string
	modified    time.Time
}

type s3Upload struct {
	bucket, key string
	parts       map[int][]byte
	contentType string
}

type s3State struct {
	mu      sync.Mutex
	buckets map[string]map[string]*s3Object
	created map[string]time.Time
	uploads map[string]*s3Upload
	nextUp  int
}

type extServices struct {
	ssm *ssmState
	s3  *s3State
}

func (s *Server) initExt() {
	s.ext = extServices{
		ssm: &ssmState{managed: map[string]*managed{}, byID: map[string]*ssmCommand{}},
		s3:  &s3State{buckets: map[string]map[string]*s3Object{}, created: map[string]time.Time{}, uploads: map[string]*s3Upload{}},
	}
}

func (s *Server) s3() *s3State {
	s.extOnce.Do(s.initExt)
	return s.ext.s3
}

// AddBucket creates an S3 bucket (no error if it exists).
func (s *Server) AddBucket(name string) {
	st := s.s3()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.buckets[name] == nil {
		st.buckets[name] = map[string]*s3Object{}
		st.created[name] = s.now()
	}
}

// Object returns a copy of an object's bytes.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	st := s.s3()
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.buckets[bucket][key]
	if o == nil {
		return nil, false
	}
	return append([]byte(nil), o.data...), true
}

// PutObject stores an object (the bucket must exist).
func (s *Server) PutObject(bucket, key string, data []byte) error {
	return s.s3().put(bucket, key, append([]byte(nil), data...), "application/octet-stream", s.now())
}

var errNoBucket = errors.New("no such bucket")

func (st *s3State) hasBucket(b string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.buckets[b] != nil
}

func (st *s3State) put(bucket, key string, data []byte, ctype string, now time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	b := st.buckets[bucket]
	if b == nil {
		return errNoBucket
	}
	sum := md5.Sum(data)
	b[key] = &s3Object{data: data, etag: `"` + hex.EncodeToString(sum[:]) + `"`, contentType: ctype, modified: now}
	return nil
}

// isS3 tells an S3 request by its SigV4 scope, in the Authorization header
// or in a presigned URL's X-Amz-Credential.
func isS3(r *http.Request) bool {
	if credService(r.Header.Get("Authorization")) == "s3" {
		return true
	}
	if c := r.URL.Query().Get("X-Amz-Credential"); c != "" {
		return credService("Credential="+c) == "s3"
	}
	return false
}

// credService returns the service of a SigV4 credential scope, whatever it
// is: "Credential=AKID/20260101/us-east-1/s3/aws4_request" -> "s3".
func credService(auth string) string {
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string `xml:",omitempty"`
	RequestID string `xml:"RequestId"`
}

func (s *Server) serveS3(w http.ResponseWriter, r *http.Request) {
	id := s.newRequestID()
	w.Header().Set("x-amz-request-id", id)
	op := "S3"
	fail := func(status int, code, msg string) {
		s.record("s3", op, "restxml", code)
		if r.Method == http.MethodHead {
			w.WriteHeader(status)
			return
		}
		b, _ := xml.Marshal(s3Error{Code: code, Message: msg, Resource: r.URL.Path, RequestID: id})
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		w.Write([]byte(xml.Header))
		w.Write(b)
	}
	ok := func() { s.record("s3", op, "restxml", "") }
	q := r.URL.Query()
	if exp := q.Get("X-Amz-Expires"); exp != "" {
		n, err1 := strconv.Atoi(exp)
		t, err2 := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
		if err1 != nil || err2 != nil || n < 1 || n > 604800 {
			fail(400, "AuthorizationQueryParametersError", "X-Amz-Expires and X-Amz-Date must be valid")
			return
		}
		if s.now().After(t.Add(time.Duration(n) * time.Second)) {
			fail(403, "AccessDenied", "Request has expired")
			return
		}
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	st := s.s3()
	if bucket == "" {
		op = "ListBuckets"
		if r.Method != http.MethodGet {
			fail(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
			return
		}
		type b struct {
			Name         string
			CreationDate string
		}
		var res struct {
			XMLName xml.Name `xml:"ListAllMyBucketsResult"`
			Xmlns   string   `xml:"xmlns,attr"`
			Owner   struct{ ID, DisplayName string }
			Buckets []b `xml:"Buckets>Bucket"`
		}
		res.Xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"
		res.Owner.ID = AccountID
		st.mu.Lock()
		for name := range st.buckets {
			res.Buckets = append(res.Buckets, b{name, st.created[name].UTC().Format(time.RFC3339)})
		}
		st.mu.Unlock()
		sort.Slice(res.Buckets, func(i, j int) bool { return res.Buckets[i].Name < res.Buckets[j].Name })
		ok()
		writeXML(w, res)
		return
	}
	if key == "" {
		s.serveBucket(w, r, bucket, &op, fail, ok)
		return
	}
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		op = "CreateMultipartUpload"
		st.mu.Lock()
		if st.buckets[bucket] == nil {
			st.mu.Unlock()
			fail(404, "NoSuchBucket", "The specified bucket does not exist")
			return
		}
		st.nextUp++
		uid := fmt.Sprintf("upload-%d", st.nextUp)
		st.uploads[uid] = &s3Upload{bucket: bucket, key: key, parts: map[int][]byte{}, contentType: r.Header.Get("Content-Type")}
		st.mu.Unlock()
		ok()
		writeXML(w, struct {
			XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
			Bucket   string
			Key      string
			UploadId string
		}{Bucket: bucket, Key: key, UploadId: uid})
	case r.Method == http.MethodPut && q.Has("uploadId"):
		op = "UploadPart"
		n, err := strconv.Atoi(q.Get("partNumber"))
		if err != nil || n < 1 || n > 10000 {
			fail(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
			return
		}
		data, err := readS3Body(r)
		if err != nil {
			fail(400, "IncompleteBody", err.Error())
			return
		}
		st.mu.Lock()
		up := st.uploads[q.Get("uploadId")]
		total := len(data)
		if up != nil {
			for pn, p := range up.parts {
				if pn != n {
					total += len(p)
				}
			}
		}
		if up == nil || up.bucket != bucket || up.key != key {
			st.mu.Unlock()
			fail(404, "NoSuchUpload", "The specified upload does not exist.")
			return
		}
		if total > MaxObjectSize {
			st.mu.Unlock()
			fail(400, "EntityTooLarge", "Your proposed upload exceeds the emulator's maximum object size")
			return
		}
		up.parts[n] = data
		st.mu.Unlock()
		sum := md5.Sum(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		ok()
		w.WriteHeader(200)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		op = "CompleteMultipartUpload"
		var req struct {
			Parts []struct{ PartNumber int } `xml:"Part"`
		}
		if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			fail(400, "MalformedXML", "The XML you provided was not well-formed")
			return
		}
		st.mu.Lock()
		uid := q.Get("uploadId")
		up := st.uploads[uid]
		if up == nil || up.bucket != bucket || up.key != key {
			st.mu.Unlock()
			fail(404, "NoSuchUpload", "The specified upload does not exist.")
			return
		}
		var data []byte
		last := 0
		for _, p := range req.Parts {
			part, have := up.parts[p.PartNumber]
			if !have || p.PartNumber <= last {
				st.mu.Unlock()
				fail(400, "InvalidPart", "One or more of the specified parts could not be found.")
				return
			}
			last = p.PartNumber
			data = append(data, part...)
		}
		delete(st.uploads, uid)
		st.mu.Unlock()
		if err := st.put(bucket, key, data, up.contentType, s.now()); err != nil {
			fail(404, "NoSuchBucket", "The specified bucket does not exist")
			return
		}
		o, _ := s.objectMeta(bucket, key)
		ok()
		writeXML(w, struct {
			XMLName xml.Name `xml:"CompleteMultipartUploadResult"`
			Bucket  string
			Key     string
			ETag    string
		}{Bucket: bucket, Key: key, ETag: o.etag})
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		op = "AbortMultipartUpload"
		st.mu.Lock()
		delete(st.uploads, q.Get("uploadId"))
		st.mu.Unlock()
		ok()
		w.WriteHeader(204)
	case r.Method == http.MethodPut:
		op = "PutObject"
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			fail(501, "NotImplemented", "CopyObject is not implemented by this emulator")
			return
		}
		data, err := readS3Body(r)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				fail(400, "EntityTooLarge", err.Error())
			} else {
				fail(400, "IncompleteBody", err.Error())
			}
			return
		}
		if err := st.put(bucket, key, data, r.Header.Get("Content-Type"), s.now()); err != nil {
			fail(404, "NoSuchBucket", "The specified bucket does not exist")
			return
		}
		o, _ := s.objectMeta(bucket, key)
		w.Header().Set("ETag", o.etag)
		ok()
		w.WriteHeader(200)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		op = "GetObject"
		if r.Method == http.MethodHead {
			op = "HeadObject"
		}
		o, err := s.objectMeta(bucket, key)
		if err != nil {
			if errors.Is(err, errNoBucket) {
				fail(404, "NoSuchBucket", "The specified bucket does not exist")
			} else {
				fail(404, "NoSuchKey", "The specified key does not exist.")
			}
			return
		}
		data := o.data
		status := 200
		if rg := r.Header.Get("Range"); rg != "" {
			lo, hi, okr := parseRange(rg, len(data))
			if !okr {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
				fail(416, "InvalidRange", "The requested range is not satisfiable")
				return
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", lo, hi-1, len(data)))
			data, status = data[lo:hi], 206
		}
		ct := o.contentType
		if ct == "" {
			ct = "binary/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Header().Set("ETag", o.etag)
		w.Header().Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
		w.Header().Set("Accept-Ranges", "bytes")
		ok()
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			w.Write(data)
		}
	case r.Method == http.MethodDelete:
		op = "DeleteObject"
		st.mu.Lock()
		if st.buckets[bucket] == nil {
			st.mu.Unlock()
			fail(404, "NoSuchBucket", "The specified bucket does not exist")
			return
		}
		delete(st.buckets[bucket], key)
		st.mu.Unlock()
		ok()
		w.WriteHeader(204)
	default:
		fail(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

func (s *Server) objectMeta(bucket, key string) (s3Object, error) {
	st := s.s3()
	st.mu.Lock()
	defer st.mu.Unlock()
	b := st.buckets[bucket]
	if b == nil {
		return s3Object{}, errNoBucket
	}
	o := b[key]
	if o == nil {
		return s3Object{}, errors.New("no such key")
	}
	return *o, nil
}

func (s *Server) serveBucket(w http.ResponseWriter, r *http.Request, bucket string, op *string, fail func(int, string, string), ok func()) {
	st := s.s3()
	switch r.Method {
	case http.MethodPut:
		*op = "CreateBucket"
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
		st.mu.Lock()
		exists := st.buckets[bucket] != nil
		if !exists {
			st.buckets[bucket] = map[string]*s3Object{}
			st.created[bucket] = s.now()
		}
		st.mu.Unlock()
		if exists {
			fail(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
			return
		}
		w.Header().Set("Location", "/"+bucket)
		ok()
		w.WriteHeader(200)
	case http.MethodHead:
		*op = "HeadBucket"
		if !st.hasBucket(bucket) {
			fail(404, "NotFound", "Not Found")
			return
		}
		ok()
		w.WriteHeader(200)
	case http.MethodGet:
		*op = "ListObjectsV2"
		q := r.URL.Query()
		prefix := q.Get("prefix")
		maxKeys := 1000
		if v := q.Get("max-keys"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				fail(400, "InvalidArgument", "Provided max-keys not an integer or within integer range")
				return
			}
			maxKeys = min(n, 1000)
		}
		after := q.Get("continuation-token")
		if after == "" {
			after = q.Get("start-after")
		}
		st.mu.Lock()
		b := st.buckets[bucket]
		if b == nil {
			st.mu.Unlock()
			fail(404, "NoSuchBucket", "The specified bucket does not exist")
			return
		}
		type content struct {
			Key          string
			LastModified string
			ETag         string
			Size         int
			StorageClass string
		}
		var keys []string
		for k := range b {
			if strings.HasPrefix(k, prefix) && k > after {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var res struct {
			XMLName               xml.Name `xml:"ListBucketResult"`
			Xmlns                 string   `xml:"xmlns,attr"`
			Name                  string
			Prefix                string
			KeyCount              int
			MaxKeys               int
			IsTruncated           bool
			NextContinuationToken string `xml:",omitempty"`
			Contents              []content
		}
		res.Xmlns, res.Name, res.Prefix, res.MaxKeys = "http://s3.amazonaws.com/doc/2006-03-01/", bucket, prefix, maxKeys
		if len(keys) > maxKeys {
			keys, res.IsTruncated = keys[:maxKeys], true
			if maxKeys > 0 {
				res.NextContinuationToken = keys[maxKeys-1]
			}
		}
		for _, k := range keys {
			o := b[k]
			res.Contents = append(res.Contents, content{k, o.modified.UTC().Format("2006-01-02T15:04:05.000Z"), o.etag, len(o.data), "STANDARD"})
		}
		res.KeyCount = len(res.Contents)
		st.mu.Unlock()
		ok()
		writeXML(w, res)
	default:
		fail(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

func writeXML(w http.ResponseWriter, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(200)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

// parseRange reads a single "bytes=a-b", "bytes=a-" or "bytes=-n" range.
func parseRange(h string, size int) (lo, hi int, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	switch {
	case a == "":
		n, err := strconv.Atoi(b)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size, size > 0
	default:
		x, err := strconv.Atoi(a)
		if err != nil || x < 0 || x >= size {
			return 0, 0, false
		}
		y := size - 1
		if b != "" {
			if y, err = strconv.Atoi(b); err != nil || y < x {
				return 0, 0, false
			}
			y = min(y, size-1)
		}
		return x, y + 1, true
	}
}

var errTooLarge = fmt.Errorf("object larger than the emulator's %d bytes", MaxObjectSize)

// readS3Body reads a PUT body, decoding aws-chunked content encoding
// (signed or unsigned chunks, with or without trailing checksums).
func readS3Body(r *http.Request) ([]byte, error) {
	body := io.LimitReader(r.Body, MaxObjectSize+1<<20)
	chunked := strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") ||
		strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-")
	if !chunked {
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		if len(data) > MaxObjectSize {
			return nil, errTooLarge
		}
		return data, nil
	}
	return decodeAWSChunked(bufio.NewReader(body))
}

// decodeAWSChunked decodes "HEX[;chunk-signature=SIG]\r\nDATA\r\n" chunks
// up to the zero-length one, then skips the trailer lines.
func decodeAWSChunked(br *bufio.Reader) ([]byte, error) {
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("aws-chunked: chunk header: %w", err)
		}
		if len(line) > 4096 {
			return nil, errors.New("aws-chunked: chunk header too long")
		}
		hexSize, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(hexSize), 16, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("aws-chunked: bad chunk size %q", hexSize)
		}
		if n == 0 {
			break
		}
		if int64(out.Len())+n > MaxObjectSize {
			return nil, errTooLarge
		}
		if _, err := io.CopyN(&out, br, n); err != nil {
			return nil, fmt.Errorf("aws-chunked: chunk data: %w", err)
		}
		if crlf, err := br.ReadString('\n'); err != nil || strings.TrimRight(crlf, "\r\n") != "" {
			return nil, errors.New("aws-chunked: chunk not followed by CRLF")
		}
	}
	for i := 0; i < 64; i++ { // trailers (x-amz-checksum-*), then an empty line
		line, err := br.ReadString('\n')
		if strings.TrimRight(line, "\r\n") == "" || err != nil {
			break
		}
	}
	return out.Bytes(), nil
}
