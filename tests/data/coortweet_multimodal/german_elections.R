# CooRTweet 2.1.3's vignette on its own real multimodal data set, german_elections (Righetti et al. 2022).
# Usage: TZ=UTC Rscript german_elections.R OUTDIR   (called by compare_german_elections.py)
# Writes OUTDIR/german_elections.csv (the data set as shipped) and OUTDIR/coortweet_{a,b}.csv (the pooled
# network's edges): a = URLs, hashtags and images as the vignette pools them; b = the same with domains, taking
# the domain rows of posts that carry a URL (echoscope derives a domain from a URL; 20,501 rows of the data set
# give a domain without its URL). time_window 30, min_participation 2, edge_weight 0.5, as in the vignette.
suppressPackageStartupMessages({library(CooRTweet); library(data.table); library(igraph)})
invisible(Sys.setlocale("LC_COLLATE", "C"))
out <- commandArgs(trailingOnly = TRUE)[1]
ge <- as.data.table(german_elections)
fwrite(ge, file.path(out, "german_elections.csv"))
el <- function() proc.time()[["elapsed"]]
prep <- function(x, column, prefix) {
  d <- prep_data(copy(x), object_id = column, account_id = "account_id", content_id = "post_id",
                 timestamp_share = "timestamp")
  d <- unique(d, by = c("object_id", "account_id", "content_id", "timestamp_share"))
  d <- d[!is.na(object_id)]
  d$object_id <- paste0(prefix, d$object_id)
  d
}
detect <- function(x, column, prefix) {
  t0 <- el()
  r <- detect_groups(prep(x, column, prefix), time_window = 30, min_participation = 2)
  cat(sprintf("detect_groups %s: %d share pairs, %.1f s\n", column, nrow(r), el() - t0))
  r
}
r_url <- detect(ge, "url_id", "url_")
r_tag <- detect(ge, "hashtag_id", "hashtag_")
r_img <- detect(ge, "phash_id", "hash_")
r_dom <- detect(ge[!is.na(url_id)], "domain_id", "domain_")
for (cfg in list(list("a", list(r_url, r_tag, r_img)), list("b", list(r_url, r_dom, r_tag, r_img)))) {
  g <- generate_coordinated_network(rbindlist(cfg[[2]], use.names = TRUE, fill = TRUE), edge_weight = 0.5,
                                    subgraph = 0)
  e <- as.data.table(as_data_frame(g, what = "edges"))
  cat(sprintf("network %s: %d edges, %d above the threshold\n", cfg[[1]], nrow(e), sum(e$weight_threshold)))
  fwrite(data.table(account_id = pmin(e$from, e$to), account_id_y = pmax(e$from, e$to), weight = e$weight,
                    avg_time_delta = e$avg_time_delta, weight_threshold = e$weight_threshold),
         file.path(out, paste0("coortweet_", cfg[[1]], ".csv")))
}
