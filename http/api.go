package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// apiHandler is one Management / Experience / Account API endpoint, free of
// ResponseWriter: it returns the status and the body to encode, or an error (an
// *APIError is shown as is; anything else is logged and shown as a generic 500).
// A nil body with 204 writes no body.
type apiHandler func(r *http.Request, p httprouter.Params) (status int, body any, err error)

// page is a paged list body: serveAPI writes the items and Logto's paging headers
// (Total-Number, Link).
type page struct {
	Items    any
	Total    int
	Page     int
	PageSize int
}

// Logto's paging defaults, and the largest page number Latch accepts: 2^31-1, so
// that (page-1)*page_size never overflows an int and a page past the end is simply
// empty.
const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxPageNumber   = math.MaxInt32
)

// pageParams parses page (1-based) and page_size; bad values are a 400 in Logto's shape.
func pageParams(r *http.Request) (pageNo, size int, err error) {
	pageNo, size, aerr := parsePaging(r.URL.Query())
	if aerr != nil {
		return 0, 0, aerr
	}
	return pageNo, size, nil
}

// parsePaging is Logto's koaPagination guard: page is an integer in
// [1, maxPageNumber] (default 1), page_size an integer in [1, maxPageSize] (default
// defaultPageSize). Anything else, including numbers that do not fit an int, is
// 400 guard.invalid_pagination.
func parsePaging(q url.Values) (pageNo, size int, err *APIError) {
	pageNo, size = 1, defaultPageSize
	if v := q.Get("page"); v != "" {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 1 || n > maxPageNumber {
			return 0, 0, apiErr(http.StatusBadRequest, "guard.invalid_pagination",
				fmt.Sprintf("page must be an integer between 1 and %d", maxPageNumber))
		}
		pageNo = int(n)
	}
	if v := q.Get("page_size"); v != "" {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 1 || n > maxPageSize {
			return 0, 0, apiErr(http.StatusBadRequest, "guard.invalid_pagination",
				fmt.Sprintf("page_size must be an integer between 1 and %d", maxPageSize))
		}
		size = int(n)
	}
	return pageNo, size, nil
}

// paginate slices items for pageNo/size and returns the page body. It never
// overflows: a page past the end (whatever pageNo and size) is empty.
func paginate[T any](items []T, pageNo, size int) page {
	total := len(items)
	start := total
	if pageNo >= 1 && size >= 1 && pageNo-1 < total/size+1 {
		start = min((pageNo-1)*size, total)
	}
	end := start
	if size >= 1 {
		end += min(size, total-start)
	}
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	return page{Items: out, Total: total, Page: pageNo, PageSize: size}
}

// serveAPI runs h and encodes its result.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, p httprouter.Params, h apiHandler) {
	status, body, err := h(r, p)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			writeAPIError(w, ae)
			return
		}
		if errors.Is(err, directory.ErrUnavailable) { // a handler that did not map it
			s.log.Warn("directory write not replicated", "method", r.Method, "path", r.URL.Path, "err", err)
			writeAPIError(w, errDirectoryUnavailable())
			return
		}
		if e, _ := protocolError(err); unavailable(w.Header(), s.log, r, e, err) {
			writeAPIError(w, apiErr(http.StatusServiceUnavailable, "request.temporarily_unavailable", "The service is temporarily unavailable. Please retry later."))
			return
		}
		s.log.Error("api handler failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeAPIError(w, apiErr(http.StatusInternalServerError, "unknown", "internal server error"))
		return
	}
	if pg, ok := body.(page); ok {
		w.Header().Set("Total-Number", strconv.Itoa(pg.Total))
		if link := pageLinks(r.URL, pg); link != "" {
			w.Header().Set("Link", link)
		}
		body = pg.Items
	}
	if body == nil || status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

// pageLinks builds an RFC 8288 Link header with first/prev/next/last, as Logto does.
func pageLinks(u *url.URL, pg page) string {
	last := max(1, (pg.Total+pg.PageSize-1)/pg.PageSize)
	link := func(n int, rel string) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("page_size", strconv.Itoa(pg.PageSize))
		return fmt.Sprintf("<%s?%s>; rel=\"%s\"", u.Path, q.Encode(), rel)
	}
	out := link(1, "first")
	if pg.Page > 1 {
		out += ", " + link(pg.Page-1, "prev")
	}
	if pg.Page < last {
		out += ", " + link(pg.Page+1, "next")
	}
	return out + ", " + link(last, "last")
}

// management wraps a Management API endpoint with Logto OSS's authorization: a bearer
// JWT from Latch's own /oidc/token for the Management API resource with scope "all".
func (s *Server) management(h apiHandler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if err := s.authorizeManagement(r); err != nil {
			if err.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="Latch Management API"`)
			}
			writeAPIError(w, err)
			return
		}
		s.serveAPI(w, r, p, h)
	}
}
